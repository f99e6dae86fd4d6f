"""The monitoring stages end to end: one daily drift window, one daily performance window.

Plain engine functions, no Dagster: the `monitor/drift` and `monitor/performance` assets call
them with the champion's handle (`registry.model_version.ModelVersion`) and the experiment's
paths, and translate the results (`as_metadata()`, `checks()`). Each stage appends its window
to a Delta series (`series.py`); the drift sensor reads those series (`signals.py`), never the
assets' metadata. A failed check is also an alert (JSON log line + optional webhook).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aurora_pipelines import lifecycle
from aurora_pipelines.errors import DataError, SpecError
from aurora_pipelines.lake.layout import LakeLayout
from aurora_pipelines.results import CheckVerdict, JsonValue, Markdown, MetadataDict, Severity
from aurora_pipelines.specs import MonitoringSpec

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

    from aurora_pipelines.monitoring.performance import WindowPerformance
    from aurora_pipelines.monitoring.window import WindowDrift
    from aurora_pipelines.registry.model_version import ModelVersion

# The definitions import this module for the check names: heavy imports wait for a run.

DRIFT_CHECK = "drift_share_max"
DRIFT_WARN_CHECK = "drift_share_warn"
PSI_WARN_CHECK = "feature_psi_warn"
PSI_ERROR_CHECK = "feature_psi_error"
PREDICTION_CHECK = "prediction_drift"
PERFORMANCE_CHECK = "performance_tolerance"
FEATURE_TABLE_COLUMNS = ["column", "psi", "test", "p_value", "js_distance", "severity", "drifted"]


@dataclass(frozen=True)
class MonitoringPaths:
    """Where one experiment's monitoring reads and writes; the caller's lake resolves them."""

    features: Path  # the training features: the drift reference
    scoring_features: Path
    batch_scores: Path
    prediction_log: Path
    uat_scores: Path  # the reference scores, when UAT ran
    references: Path  # reference bins per model version, in `v<version>/`
    drift: Path  # the drift series
    performance: Path  # the performance series
    reports: Path  # drift HTML reports, `drift_<day>.html`

    @classmethod
    def of(
        cls, layout: LakeLayout, experiment: str, data_owner: str | None = None
    ) -> MonitoringPaths:
        """The experiment's monitoring paths, as the lake lays them out; `data_owner` is the
        experiment whose feature tables it reads (a multi-task experiment's parent)."""
        data = data_owner or experiment
        return cls(
            features=layout.table(data, *lifecycle.FEATURES),
            scoring_features=layout.table(data, *lifecycle.SCORING_FEATURES),
            batch_scores=layout.table(experiment, *lifecycle.BATCH_SCORES),
            prediction_log=layout.prediction_log(experiment),
            uat_scores=layout.table(experiment, *lifecycle.UAT_SCORES),
            references=layout.table(experiment, "monitor", "reference"),
            drift=layout.table(experiment, *lifecycle.DRIFT),
            performance=layout.table(experiment, *lifecycle.PERFORMANCE),
            reports=layout.report_dir(experiment, "drift"),
        )


@dataclass
class DriftWindowResult:
    """One day's drift, as appended to the drift series."""

    drift: WindowDrift
    features_table: pd.DataFrame  # the series rows: one per feature and prediction score
    monitoring: MonitoringSpec
    report: Path
    reference: Path  # the reference bins (bins.json)
    series: Path
    series_version: int
    alert_webhook_error: str | None = None

    def as_metadata(self) -> MetadataDict:
        d = self.drift
        prediction = d.prediction
        return {
            "window": d.window,
            "dagster/row_count": d.rows,
            "rows": d.rows,
            "sources": ", ".join(d.sources),
            "drift_share": float(d.drift_share),
            "dataset_drift": bool(d.dataset_drift),
            "severity": d.severity,
            "drifted_features": ", ".join(d.drifted_columns) or "none",
            "prediction_psi": float(prediction.psi) if prediction else None,
            "class_score_psi": JsonValue({f.column: f.psi for f in d.class_scores})
            if d.class_scores
            else None,
            "evidently_drift_share": d.evidently_drift_share,
            "features": Markdown(
                self.features_table[FEATURE_TABLE_COLUMNS].to_markdown(index=False)
            ),
            "report": self.report,
            "reference": self.reference,
            "model_version": d.model_version,
            "delta_path": self.series,
            "delta_version": self.series_version,
            "alert_webhook_error": self.alert_webhook_error,
            **self.plots(),
        }

    def plots(self) -> MetadataDict:
        """Per-feature PSI against its error level, and drift share over the windows so far."""
        from aurora_pipelines import plot_markdown as pm
        from aurora_pipelines.monitoring.history import drift_history

        m = self.monitoring
        psi = {f.column: float(f.psi) for f in self.drift.features if f.psi is not None}
        views: MetadataDict = {}
        if psi:
            views["psi_plot"] = pm.image_markdown(
                "PSI per feature",
                pm.bar_chart(
                    f"PSI per feature, window {self.drift.window}", psi, "PSI", m.psi_threshold
                ),
            )
        history = [(p.window, p.value) for p in drift_history(self.series)]
        if history:
            views["drift_share_over_time"] = pm.image_markdown(
                "Drift share over time",
                pm.line_chart("drift share per window", history, "drift share", m.drift_share_max),
            )
        return views

    def checks(self) -> list[CheckVerdict]:
        m, d = self.monitoring, self.drift
        share = float(d.drift_share)
        warned = [f.column for f in d.features if f.severity != "ok"]
        errored = [f.column for f in d.features if f.severity == "error"]
        scores = [s for s in [d.prediction, *d.class_scores] if s is not None]
        drifted_scores = [s for s in scores if s.severity == "error"]
        return [
            _verdict(
                DRIFT_WARN_CHECK,
                share <= m.drift_share_warn,
                Severity.WARN,
                f"drift share {share:.2f} above {m.drift_share_warn}",
                drift_share=share,
                maximum=m.drift_share_warn,
            ),
            _verdict(
                DRIFT_CHECK,
                share <= m.drift_share_max,
                Severity.ERROR,
                f"drift share {share:.2f} above {m.drift_share_max}: retraining is due; the "
                "drift sensor requests it when the Dagster daemon runs (`make ui`), and the "
                "retrained model goes through approval again",
                drift_share=share,
                maximum=m.drift_share_max,
            ),
            _verdict(
                PSI_WARN_CHECK,
                not warned,
                Severity.WARN,
                f"PSI at or above the warn level: {', '.join(warned)}",
                features=", ".join(warned) or "none",
            ),
            _verdict(
                PSI_ERROR_CHECK,
                not errored,
                Severity.ERROR,
                f"PSI at or above the error level: {', '.join(errored)}",
                features=", ".join(errored) or "none",
            ),
            _verdict(
                PREDICTION_CHECK,
                not drifted_scores,
                Severity.WARN,
                "score distribution drifted ("
                + ", ".join(f"{s.column} PSI {s.psi:.3f}" for s in drifted_scores)
                + ")",
                psi=float(d.prediction.psi) if d.prediction else 0.0,
                measured=d.prediction is not None,
            ),
        ]


@dataclass
class PerformanceWindowResult:
    """One day's performance once labels arrived, as appended to the performance series."""

    performance: WindowPerformance
    series: Path
    series_version: int
    alert_webhook_error: str | None = None

    @property
    def message(self) -> str:
        r = self.performance
        return (
            f"{r.metric} {r.value:.4f} vs {r.training_value} at training "
            f"(drop {r.drop}, tolerance {r.tolerance})"
        )

    def as_metadata(self) -> MetadataDict:
        r = self.performance
        return {
            "window": r.window,
            "metric": r.metric,
            "value": r.value,
            "training_value": r.training_value,
            "change": r.change,
            "drop": r.drop,
            "degraded": r.degraded,
            "labelled_rows": r.labelled_rows,
            "model_version": r.model_version,
            "delta_path": self.series,
            "delta_version": self.series_version,
            "alert_webhook_error": self.alert_webhook_error,
        }

    def checks(self) -> list[CheckVerdict]:
        r = self.performance
        return [
            _verdict(
                PERFORMANCE_CHECK,
                not r.degraded,
                Severity.ERROR,
                f"performance dropped: {self.message}",
                value=r.value,
                drop=r.drop if r.drop is not None else 0.0,
                tolerance=r.tolerance,
            )
        ]


def _verdict(
    name: str, passed: bool, severity: Severity, description: str, **metadata
) -> CheckVerdict:
    return CheckVerdict(
        name=name,
        passed=bool(passed),
        severity=severity,
        description="" if passed else description,
        metadata=metadata,
    )


def run_drift_window(
    spark: SparkSession,
    paths: MonitoringPaths,
    monitoring: MonitoringSpec,
    *,
    experiment: str,
    day: str,
    champion: ModelVersion,
    id_column: str | None,
    commit_info: dict[str, str] | None = None,
) -> DriftWindowResult:
    """Drift of day `day`'s batch scores and logged predictions vs the champion's training
    reference (built once per features version and model version); appended to the drift
    series, alerted when it crosses the spec's WARN or ERROR level."""
    import pandas as pd

    from aurora_pipelines.lake import delta
    from aurora_pipelines.monitoring.alerts import Alert, emit
    from aurora_pipelines.monitoring.run_window import drift_of_window, load_or_build_reference
    from aurora_pipelines.monitoring.series import append_window
    from aurora_pipelines.monitoring.window_data import window_data

    columns = list(champion.input_columns)
    reference = delta.read_spark(spark, paths.features)
    profile, sample_path = load_or_build_reference(
        paths.references / f"v{champion.version}",
        reference,
        columns,
        source=f"{paths.features}@{delta.version(paths.features)}",
        model_version=champion.version,
        reference_scores=lambda: reference_scores(spark, paths, champion, reference, id_column),
        local_table=paths.features,
    )
    data = window_data(
        spark,
        scores_path=paths.batch_scores,
        features_path=paths.scoring_features,
        log_path=paths.prediction_log,
        id_column=id_column,
        columns=columns,
        day=day,
    )
    if data.frame is None:
        raise DataError(
            f"window {day} of '{experiment}' has no batch scores and no logged predictions; "
            "score that day's batch (serve/batch_scores) or pick another partition"
        )
    paths.reports.mkdir(parents=True, exist_ok=True)
    report = paths.reports / f"drift_{day}.html"
    result = drift_of_window(
        data.frame,
        profile,
        monitoring,
        window_name=day,
        reference_sample=pd.read_parquet(sample_path),
        report_path=report,
    )
    result.sources = data.sources
    frame = result.to_frame()
    version = append_window(
        paths.drift,
        frame,
        window=day,
        model_version=champion.version,
        drift_share=result.drift_share,
        commit_info=commit_info,
    )
    webhook_error = None
    if result.severity != "ok":
        webhook_error = emit(
            Alert(
                event=f"drift_{result.severity}",
                severity=result.severity,
                experiment=experiment,
                window=day,
                message=f"drift share {result.drift_share:.2f} "
                f"(warn {monitoring.drift_share_warn}, error {monitoring.drift_share_max}); "
                f"drifted: {', '.join(result.drifted_columns) or 'none'}",
                details={
                    "drift_share": result.drift_share,
                    "drifted_features": result.drifted_columns,
                    "model_version": champion.version,
                    "report": str(report),
                },
            ),
            monitoring.webhook_url,
        )
    return DriftWindowResult(
        drift=result,
        features_table=frame,
        monitoring=monitoring,
        report=report,
        reference=sample_path.parent / "bins.json",
        series=paths.drift,
        series_version=version,
        alert_webhook_error=webhook_error,
    )


def reference_scores(
    spark: SparkSession,
    paths: MonitoringPaths,
    champion: ModelVersion,
    reference: DataFrame,
    id_column: str | None,
) -> DataFrame | None:
    """UAT scores when `serve/uat_scores` exists, else the champion's scores of the training
    reference (computed on Spark); with the class probabilities when the scores carry them."""
    from aurora_pipelines.lake import delta
    from aurora_pipelines.monitoring.window_data import CLASS_PROBABILITIES
    from aurora_pipelines.serving.batch import score_batch

    if delta.is_delta_table(paths.uat_scores) and "score" in dict(
        delta.schema_columns(paths.uat_scores)
    ):
        scores = delta.read_spark(spark, paths.uat_scores)
    elif not id_column:
        return None
    else:
        scores = score_batch(reference, champion, id_column=id_column)
    return scores.select(*[c for c in ("score", CLASS_PROBABILITIES) if c in scores.columns])


def run_performance_window(
    spark: SparkSession,
    paths: MonitoringPaths,
    monitoring: MonitoringSpec,
    *,
    experiment: str,
    day: str,
    champion: ModelVersion,
    id_column: str | None,
    target: str,
    commit_info: dict[str, str] | None = None,
) -> PerformanceWindowResult:
    """The metric the champion was trained on, over day `day`'s scored rows that have a label
    by now (`monitoring.labels`), vs its training value; appended to the performance series,
    alerted when it dropped more than `performance_tolerance`."""

    from aurora_pipelines.monitoring.alerts import Alert, emit
    from aurora_pipelines.monitoring.performance import labelled_scores, window_performance
    from aurora_pipelines.monitoring.run_window import score_classes
    from aurora_pipelines.monitoring.series import append_performance
    from aurora_pipelines.monitoring.window_data import LOG_ID_COLUMN, window_scores
    from aurora_pipelines.sources.readers import read_source

    if monitoring.labels is None:
        raise SpecError(
            f"experiment '{experiment}' has no labels table; set `monitoring.labels` in the "
            "spec to measure performance"
        )
    window = window_scores(
        spark,
        scores_path=paths.batch_scores,
        log_path=paths.prediction_log,
        id_column=id_column,
        day=day,
    )
    if window.frame is None:
        raise DataError(f"window {day} of '{experiment}' has no scores to evaluate")
    classes = (
        [str(c) for c in champion.classes]
        if champion.is_multiclass
        else score_classes(window.frame)
        if champion.is_classifier
        else []
    )
    labelled = labelled_scores(
        window.frame,
        read_source(spark, monitoring.labels),
        id_column=id_column or LOG_ID_COLUMN,
        target=target,
        classes=classes,
    )
    result = window_performance(
        labelled,
        window=day,
        metric=champion.primary_metric,
        problem_type=champion.problem_type,
        training_metrics=champion.metrics,
        tolerance=monitoring.performance_tolerance,
        model_version=champion.version,
    )
    version = append_performance(paths.performance, result, commit_info)
    outcome = PerformanceWindowResult(
        performance=result, series=paths.performance, series_version=version
    )
    if result.degraded:
        outcome.alert_webhook_error = emit(
            Alert(
                event="performance_degraded",
                severity="error",
                experiment=experiment,
                window=day,
                message=outcome.message,
                details=result.model_dump(),
            ),
            monitoring.webhook_url,
        )
    return outcome
