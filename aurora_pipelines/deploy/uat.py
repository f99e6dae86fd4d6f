"""UAT: the `staging` model scores the experiment's UAT set on Spark; the report compares its
metrics with the training metrics in MLflow and shows the score distribution, and is attached
to the production approval request for the MRM approver.

The UAT set is `deployment.uat_source` when the spec names one (rows with the model's feature
columns and the target). Otherwise it is a documented hold-out of the feature table:
- with a `time_column`: the most recent `uat_fraction` of rows by that column. That is the
  slice closest to production traffic, and it is the slice training holds out under
  time-based validation, so the model has not seen it;
- without one: a seeded hash sample of `uat_fraction` of the rows by id, reproducible across
  runs and independent of row order.
`uat_fraction` defaults to `training.holdout_fraction` (else 0.2).

The version is judged on the metric it was trained on (the model-version handle's primary
metric, which a recommended plan may have chosen instead of the spec's
`training.primary_metric`), in that metric's direction: `training.metric_min` is a minimum
for roc_auc and a maximum for rmse, mae or log_loss. A multiclass version is scored from its
`class_probabilities` with the training scorer's multiclass metrics (accuracy, macro F1,
log loss, one-vs-rest ROC AUC and average precision).
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aurora_pipelines.errors import DataError
from aurora_pipelines.lifecycle import UAT_CHECK
from aurora_pipelines.registry.model_version import ModelVersion, class_key
from aurora_pipelines.results import CheckVerdict, Markdown, MetadataDict, Severity

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from aurora_pipelines.sources.access import SourceAccess
    from aurora_pipelines.specs import ExperimentSpec

ROW_ID = "__uat_row_id"
HASH_BUCKETS = 10_000


@dataclass
class UatReport:
    experiment: str
    model_name: str
    model_version: str
    selection: str
    rows: int
    metrics: dict[str, float]
    comparison: list[dict[str, Any]]
    score_distribution: list[dict[str, Any]]
    score_summary: dict[str, float]
    primary_metric: str
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def evidence(self, paths: dict[str, str]) -> dict[str, Any]:
        """What the production approval request carries: paths and the headline numbers."""
        return {
            **paths,
            "uat_rows": self.rows,
            "uat_selection": self.selection,
            "uat_metrics": {k: round(v, 6) for k, v in self.metrics.items()},
            "uat_vs_training": [
                {k: row[k] for k in ("metric", "uat", "training_holdout", "delta")}
                for row in self.comparison
            ],
        }


def uat_fraction(spec: ExperimentSpec) -> float:
    return spec.deployment.uat_fraction or spec.training.holdout_fraction or 0.2


def select_uat_set(
    spark: SparkSession,
    spec: ExperimentSpec,
    features_path: Path,
    access: SourceAccess | None = None,
) -> tuple[DataFrame, str]:
    """(the UAT rows, how they were chosen) — see the module docstring.

    A `uat_source` is read through `access` (the experiment team's grants and PII rules)."""
    from pyspark.sql import functions as F

    from aurora_pipelines.errors import SpecError
    from aurora_pipelines.lake import delta

    source = spec.deployment.uat_source
    if source is not None:
        if access is None:
            raise SpecError(
                f"experiment '{spec.name}' names a deployment.uat_source; reading it needs the "
                "team's data access (pass a SourceAccess)"
            )
        frame = access.read(spark, source).df
        return frame, f"spec deployment.uat_source ({source.display})"
    frame = delta.read_spark(spark, features_path)
    fraction = uat_fraction(spec)
    if spec.time_column and spec.time_column in frame.columns:
        seconds = F.col(spec.time_column).cast("timestamp").cast("double")
        (cutoff,) = frame.select(seconds.alias("t")).approxQuantile("t", [1 - fraction], 0.001)
        chosen = frame.where(seconds > cutoff)
        when = datetime.fromtimestamp(cutoff, UTC).isoformat(timespec="seconds")
        return chosen, (
            f"most recent {fraction:.0%} of the feature table by {spec.time_column} (after {when})"
        )
    key = spec.id_column if spec.id_column in frame.columns else None
    if key is None:
        raise DataError(
            f"experiment '{spec.name}' has neither a time_column nor an id_column in its feature "
            "table to hold UAT rows out by; set one or `deployment.uat_source`"
        )
    bucket = F.abs(F.xxhash64(F.col(key).cast("string"), F.lit(spec.training.seed))) % HASH_BUCKETS
    chosen = frame.where(bucket < int(fraction * HASH_BUCKETS))
    return chosen, f"seeded {fraction:.0%} hash sample of the feature table by {key}"


def uat_metrics(
    frame: pd.DataFrame, *, target: str, version: ModelVersion
) -> tuple[dict[str, float], dict[str, float], list[dict[str, Any]]]:
    """(metrics, score summary, score histogram) of scored UAT rows with their target.

    `frame` holds the scores schema's `score`, `prediction` and (classifiers)
    `class_probabilities` columns (serving/batch.py) and the target."""
    from aurora_pipelines.training.trainer import metrics_for

    if frame.empty:
        raise DataError("the UAT set is empty; check `deployment.uat_source` or the fraction")
    score = frame["score"].to_numpy(dtype=float)
    metrics: dict[str, float] = {}
    summary: dict[str, float] = {}
    if version.is_classifier:
        metrics, summary = _classification_metrics(frame, target, version)
        edges = np.linspace(0, 1, 11)
    else:
        y = frame[target].to_numpy(dtype=float)
        for name, metric in metrics_for(version.problem_type).items():
            metrics[name] = float(metric.score(y, score))
        edges = np.unique(np.quantile(score, np.linspace(0, 1, 11)))
    counts, edges = np.histogram(score, bins=edges)
    histogram = [
        {"bucket": f"[{lo:.3g}, {hi:.3g}{']' if i == len(counts) - 1 else ')'}", "rows": int(c),
         "share": float(c / len(score))}
        for i, (lo, hi, c) in enumerate(zip(edges[:-1], edges[1:], counts, strict=True))
    ]  # fmt: skip
    summary = {
        "mean_score": float(score.mean()),
        "p10": float(np.quantile(score, 0.1)),
        "p50": float(np.quantile(score, 0.5)),
        "p90": float(np.quantile(score, 0.9)),
        **summary,
    }
    return metrics, summary, histogram


def _classification_metrics(
    frame: pd.DataFrame, target: str, version: ModelVersion
) -> tuple[dict[str, float], dict[str, float]]:
    """The training scorer's metrics on the rows whose label is one of the version's classes,
    plus predicted vs actual class rates."""
    from aurora_pipelines.serving.batch import CLASS_PROBABILITIES, probability_matrix
    from aurora_pipelines.training.trainer import metrics_for

    keys = list(version.class_keys)
    labels = frame[target].map(class_key)
    known = labels.isin(keys).to_numpy()
    y = labels[known].map({k: i for i, k in enumerate(keys)}).to_numpy(dtype="int64")
    if CLASS_PROBABILITIES in frame:
        proba = probability_matrix(frame[CLASS_PROBABILITIES], keys)[known]
    else:  # scores written before class_probabilities: a binary classifier's score
        positive = frame["score"].to_numpy(dtype=float)[known]
        proba = np.column_stack([1 - positive, positive])
    metrics: dict[str, float] = {}
    for name, metric in metrics_for(version.problem_type).items():
        try:
            metrics[name] = float(metric.score(y, proba, len(keys)))
        except ValueError:  # a class missing from the UAT set (ROC AUC is undefined)
            continue
    summary: dict[str, float] = {}
    if not known.all():
        summary["rows_with_unknown_class"] = float((~known).sum())
    if version.is_multiclass:
        predicted = frame["prediction"].astype(str)
        for i, key in enumerate(keys):
            summary[f"predicted_share_{key}"] = float((predicted == key).mean())
            summary[f"actual_share_{key}"] = float((y == i).mean()) if len(y) else 0.0
    elif "prediction" in frame:
        summary["positive_rate"] = float(frame["prediction"].mean())
        summary["actual_positive_rate"] = float((y == 1).mean()) if len(y) else 0.0
    return metrics, summary


def compare_with_training(
    metrics: dict[str, float], training: dict[str, float]
) -> list[dict[str, Any]]:
    """One row per metric: UAT value, the training holdout and CV values, UAT - holdout."""
    rows = []
    for name, value in metrics.items():
        holdout = training.get(f"holdout_{name}")
        cv = training.get(name)
        reference = holdout if holdout is not None else cv
        rows.append(
            {
                "metric": name,
                "uat": value,
                "training_holdout": holdout,
                "training_cv": cv,
                "delta": None if reference is None else value - reference,
            }
        )
    return rows


def render_markdown(report: UatReport) -> str:
    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)

    lines = [
        f"# UAT report: {report.model_name} v{report.model_version}",
        "",
        f"- experiment: {report.experiment}",
        f"- UAT set: {report.rows:,} rows — {report.selection}",
        f"- scored by the `staging` model on Spark at {report.created_at}",
        f"- primary metric: {report.primary_metric}",
        "",
        "## Metrics vs training",
        "",
        "| metric | UAT | training holdout | training CV | UAT - holdout |",
        "|---|---|---|---|---|",
    ]
    for row in report.comparison:
        lines.append(
            f"| {row['metric']} | {fmt(row['uat'])} | {fmt(row['training_holdout'])} | "
            f"{fmt(row['training_cv'])} | {fmt(row['delta'])} |"
        )
    lines += ["", "## Score distribution", ""]
    lines += [f"- {k}: {fmt(v)}" for k, v in report.score_summary.items()]
    lines += ["", "| bucket | rows | share |", "|---|---|---|"]
    lines += [
        f"| {b['bucket']} | {b['rows']:,} | {b['share']:.1%} |" for b in report.score_distribution
    ]
    return "\n".join(lines) + "\n"


def render_html(report: UatReport) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(r['metric'])}</td>"
        + "".join(
            f"<td>{'-' if r[k] is None else f'{r[k]:.4f}'}</td>"
            for k in ("uat", "training_holdout", "training_cv", "delta")
        )
        + "</tr>"
        for r in report.comparison
    )
    peak = max((b["share"] for b in report.score_distribution), default=1) or 1
    bars = "".join(
        f"<tr><td>{e(b['bucket'])}</td><td>{b['rows']:,}</td><td>"
        f"<div style='background:#4a78c2;height:12px;width:{300 * b['share'] / peak:.0f}px'>"
        f"</div></td><td>{b['share']:.1%}</td></tr>"
        for b in report.score_distribution
    )
    summary = "".join(f"<li>{e(k)}: {v:.4f}</li>" for k, v in report.score_summary.items())
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>UAT report: {e(report.model_name)} v{e(report.model_version)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}</style>"
        f"</head><body><h1>UAT report: {e(report.model_name)} v{e(report.model_version)}</h1>"
        f"<p>{report.rows:,} rows — {e(report.selection)}; scored by the <code>staging</code> "
        f"model at {e(report.created_at)}. Primary metric: {e(report.primary_metric)}.</p>"
        "<h2>Metrics vs training</h2><table><tr><th>metric</th><th>UAT</th>"
        "<th>training holdout</th><th>training CV</th><th>UAT - holdout</th></tr>"
        f"{rows}</table><h2>Score distribution</h2><ul>{summary}</ul>"
        f"<table><tr><th>bucket</th><th>rows</th><th></th><th>share</th></tr>{bars}</table>"
        "</body></html>"
    )


def uat_report_dir(reports_dir: Path, experiment: str, version: str | int) -> Path:
    return Path(reports_dir) / experiment / "uat" / f"v{version}"


def write_report(report: UatReport, out_dir: Path) -> dict[str, str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "uat_report": out_dir / "uat_report.html",
        "uat_report_markdown": out_dir / "uat_report.md",
        "uat_report_json": out_dir / "uat_report.json",
    }
    files["uat_report"].write_text(render_html(report), encoding="utf-8")
    files["uat_report_markdown"].write_text(render_markdown(report), encoding="utf-8")
    files["uat_report_json"].write_text(json.dumps(report.to_dict(), indent=2, default=str))
    return {k: str(v) for k, v in files.items()}


def uat_evidence(reports_dir: Path, experiment: str, version: str | int) -> dict[str, Any]:
    """The UAT evidence of one version for its production approval request ({} if none)."""
    folder = uat_report_dir(reports_dir, experiment, version)
    data_file = folder / "uat_report.json"
    if not data_file.is_file():
        return {}
    report = UatReport(**json.loads(data_file.read_text()))
    return report.evidence(
        {
            "uat_report": str(folder / "uat_report.html"),
            "uat_report_markdown": str(folder / "uat_report.md"),
        }
    )


@dataclass(frozen=True)
class UatRun:
    """What `run_uat` hands back: the report, its files, the Delta version of the UAT
    scores, the version judged and the bar it is judged against."""

    report: UatReport
    paths: dict[str, str]
    table_version: int
    model_version: ModelVersion
    metric_min: float | None

    def as_metadata(self) -> MetadataDict:
        report = self.report
        value = report.metrics.get(report.primary_metric)
        comparison = "\n".join(
            f"| {r['metric']} | {r['uat']:.4f} | "
            + ("-" if r["training_holdout"] is None else f"{r['training_holdout']:.4f}")
            + " |"
            for r in report.comparison
        )
        return {
            "dagster/row_count": report.rows,
            "model_version": report.model_version,
            "uat_set": report.selection,
            "primary_metric": report.primary_metric,
            f"uat_{report.primary_metric}": value if value is not None else float("nan"),
            "vs_training": Markdown(
                "| metric | UAT | training holdout |\n|---|---|---|\n" + comparison
            ),
            "report": Path(self.paths["uat_report"]),
            "delta_version": self.table_version,
        }

    def checks(self) -> list[CheckVerdict]:
        return [uat_verdict(self.report, self.model_version, self.metric_min)]


def uat_verdict(
    report: UatReport, model_version: ModelVersion, metric_min: float | None
) -> CheckVerdict:
    """Whether the UAT value of the metric the version was trained on meets `metric_min`, in
    that metric's direction (a maximum for rmse, mae, log_loss). A warning, not a block: the
    MRM approver reads it with the report."""
    metric = model_version.primary_metric
    value = report.metrics.get(metric)
    direction = "min" if model_version.greater_is_better else "max"
    metadata = {
        "metric": metric,
        "value": value if value is not None else float("nan"),
        "bound": metric_min if metric_min is not None else float("nan"),
        "direction": direction,
    }
    if metric_min is None:
        return CheckVerdict(
            UAT_CHECK,
            passed=False,
            severity=Severity.WARN,
            description=f"no bound for {metric}: the spec sets no training.metric_min and "
            "the version records none (registered before bounds were recorded); set "
            "training.metric_min",
            metadata=metadata,
        )
    if value is None:
        return CheckVerdict(
            UAT_CHECK,
            passed=False,
            severity=Severity.WARN,
            description=f"UAT could not compute {metric} on {report.rows} rows (e.g. one class "
            "only); widen the UAT set (deployment.uat_fraction or uat_source)",
            metadata=metadata,
        )
    passed = model_version.meets(value, metric_min)
    bound = "at least" if model_version.greater_is_better else "at most"
    return CheckVerdict(
        UAT_CHECK,
        passed=passed,
        severity=Severity.WARN,
        description=""
        if passed
        else f"UAT {metric} {value:.4f} is not {bound} the spec bound {metric_min} "
        "(training.metric_min); the MRM approver should review the report before approving",
        metadata=metadata,
    )


def run_uat(
    spark: SparkSession,
    spec: ExperimentSpec,
    *,
    tracking_uri: str,
    model_version: str,
    features_path: Path,
    output_path: Path,
    reports_dir: Path,
    commit_info: dict[str, str] | None = None,
    access: SourceAccess | None = None,
) -> UatRun:
    """Score the UAT set with `model_version`, write Delta and the report, judge the metric.

    The version is loaded through the model-version handle; the spec's problem type and
    primary metric are only fallbacks for a version that records neither.
    """
    from pyspark.sql import functions as F

    from aurora_pipelines.lake import delta
    from aurora_pipelines.registry.model_version import load_experiment_version
    from aurora_pipelines.serving.batch import CLASS_PROBABILITIES, score_batch

    version = load_experiment_version(tracking_uri, spec, model_version)
    if version.is_unsupervised:
        from aurora_pipelines.deploy.uat_unsupervised import run_unsupervised_uat

        return run_unsupervised_uat(
            spark,
            spec,
            version,
            tracking_uri=tracking_uri,
            features_path=features_path,
            output_path=output_path,
            reports_dir=reports_dir,
            commit_info=commit_info,
            access=access,
        )
    uat, selection = select_uat_set(spark, spec, features_path, access)
    if spec.target not in uat.columns:
        raise DataError(
            f"the UAT set has no target column '{spec.target}'; UAT compares predictions with "
            "outcomes — point `deployment.uat_source` at labelled rows"
        )
    key = spec.id_column if spec.id_column and spec.id_column in uat.columns else ROW_ID
    if key == ROW_ID:
        uat = uat.withColumn(ROW_ID, F.monotonically_increasing_id())
    uat = uat.withColumn(key, F.col(key).cast("string"))
    scored = score_batch(uat, version, id_column=key)
    labelled = scored.join(uat.select(key, spec.target), on=key, how="inner")
    table_version = delta.write_spark(labelled, output_path, commit_info=commit_info)
    columns = ["score", "prediction", spec.target]
    if version.is_classifier:
        columns.append(CLASS_PROBABILITIES)
    frame = delta.read_pandas(output_path, columns=columns)
    metrics, summary, histogram = uat_metrics(frame, target=spec.target, version=version)
    report = UatReport(
        experiment=spec.name,
        model_name=spec.name,
        model_version=version.version,
        selection=selection,
        rows=len(frame),
        metrics=metrics,
        comparison=compare_with_training(metrics, version.metrics),
        score_distribution=histogram,
        score_summary=summary,
        primary_metric=version.primary_metric,
    )
    paths = write_report(report, uat_report_dir(reports_dir, spec.name, version.version))
    return UatRun(report, paths, table_version, version, _uat_bound(spec, tracking_uri, version))


def _uat_bound(spec: ExperimentSpec, tracking_uri: str, version: ModelVersion) -> float | None:
    """The spec's `training.metric_min`, else the bound train/model derived for this version
    (tag `aurora.metric_bound`), else None (no bar recorded: the check says so)."""
    if spec.training.metric_min is not None:
        return spec.training.metric_min
    from aurora_pipelines.registry import mlflow_registry

    recorded = mlflow_registry.version_tags(tracking_uri, version.name, version.version).get(
        "aurora.metric_bound"
    )
    return float(recorded) if recorded else None
