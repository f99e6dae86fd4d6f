"""UAT of an unsupervised version: the staging model scores the UAT set on Spark (the same
scores table as a supervised version) and the report measures what a target-free model can
be held to:

- clustering: stability of the assignment — adjusted Rand index of the staging model's
  clusters against the training assignment (logged at training) on the ids both hold, plus
  the silhouette on the UAT rows and the cluster shares;
- dimensionality_reduction: the variance the kept components explain on the UAT rows;
- anomaly_detection: the anomaly rate on the UAT rows (and average precision when the
  spec's `unsupervised.label_column` is in the UAT set).

The version is judged on its primary metric against `training.metric_min` when the spec
sets one, else the task's default bar (training/unsupervised/stage.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aurora_pipelines.errors import DataError
from aurora_pipelines.registry.model_version import ModelVersion

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from aurora_pipelines.deploy.uat import UatRun
    from aurora_pipelines.sources.access import SourceAccess
    from aurora_pipelines.specs import ExperimentSpec

SAMPLE_ROWS = 20_000  # UAT rows brought into pandas for silhouette / explained variance


def unsupervised_uat_metrics(
    version: ModelVersion,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    *,
    id_column: str,
    training_assignment: pd.DataFrame | None,
    label: pd.Series | None = None,
    seed: int = 0,
) -> tuple[dict[str, float], dict[str, float]]:
    """(metrics, summary) of a scored UAT set; `features` a sample of its input rows."""
    from sklearn.metrics import adjusted_rand_score, average_precision_score

    from aurora_pipelines.training.unsupervised.clustering import cluster_scores

    if scores.empty:
        raise DataError("the UAT set is empty; check `deployment.uat_source` or the fraction")
    metrics: dict[str, float] = {}
    summary: dict[str, float] = {}
    head, last = version.model[:-1], version.model.steps[-1][1]
    Z = np.asarray(head.transform(features[list(version.input_columns)]), dtype="float64")
    if version.problem_type == "clustering":
        predicted = scores["prediction"].astype("int64")
        shares = predicted.value_counts(normalize=True).sort_index()
        summary.update({f"cluster_share_{k}": float(v) for k, v in shares.items()})
        _, labels, _ = last.outputs(Z)
        s, ch, db = cluster_scores(Z, labels.astype("int64"), seed)
        metrics.update(silhouette=s, calinski_harabasz=ch, davies_bouldin=db)
        if training_assignment is not None:
            both = scores[[id_column, "prediction"]].merge(
                training_assignment.rename(columns={"cluster": "trained"}), on=id_column
            )
            summary["overlapping_ids"] = float(len(both))
            if len(both) >= 2:
                metrics["adjusted_rand"] = float(
                    adjusted_rand_score(both["trained"], both["prediction"].astype("int64"))
                )
    elif version.problem_type == "dimensionality_reduction":
        error = last.reconstruction_error(Z)
        total = float(((Z - Z.mean(axis=0)) ** 2).sum()) or 1.0
        metrics["explained_variance"] = float(1 - (error**2).sum() / total)
    else:
        flagged = scores["prediction"].to_numpy(dtype=float)
        metrics["anomaly_rate"] = float(flagged.mean())
        if label is not None:
            y = pd.to_numeric(label, errors="coerce").fillna(0).to_numpy() > 0
            if 0 < y.sum() < len(y):
                metrics["average_precision"] = float(
                    average_precision_score(y, scores["score"].to_numpy(dtype=float))
                )
    return metrics, summary


def run_unsupervised_uat(
    spark: SparkSession,
    spec: ExperimentSpec,
    version: ModelVersion,
    *,
    tracking_uri: str,
    features_path: Path,
    output_path: Path,
    reports_dir: Path,
    commit_info: dict[str, str] | None = None,
    access: SourceAccess | None = None,
) -> UatRun:
    from pyspark.sql import functions as F

    from aurora_pipelines.deploy.uat import (
        ROW_ID,
        UatReport,
        UatRun,
        compare_with_training,
        select_uat_set,
        uat_report_dir,
        write_report,
    )
    from aurora_pipelines.lake import delta
    from aurora_pipelines.registry import mlflow_registry
    from aurora_pipelines.registry.unsupervised import training_assignment
    from aurora_pipelines.serving.batch import score_batch
    from aurora_pipelines.training.unsupervised.stage import metric_bar

    uat, selection = select_uat_set(spark, spec, features_path, access)
    key = spec.id_column if spec.id_column and spec.id_column in uat.columns else ROW_ID
    if key == ROW_ID:
        uat = uat.withColumn(ROW_ID, F.monotonically_increasing_id())
    uat = uat.withColumn(key, F.col(key).cast("string"))
    label = spec.unsupervised.label_column
    carried = label if label and label in uat.columns else None
    scored = score_batch(uat, version, id_column=key, label_column=carried)
    table_version = delta.write_spark(scored, output_path, commit_info=commit_info)
    scores = delta.read_pandas(output_path)
    sample = uat.select(key, *version.input_columns).limit(SAMPLE_ROWS).toPandas()
    run_id = mlflow_registry.get_model_version(tracking_uri, version.name, version.version).run_id
    metrics, summary = unsupervised_uat_metrics(
        version,
        scores,
        sample,
        id_column=key,
        training_assignment=training_assignment(tracking_uri, run_id)
        if version.problem_type == "clustering" and key != ROW_ID
        else None,
        label=scores["label"] if carried else None,
        seed=spec.training.seed,
    )
    score_summary, histogram = _score_distribution(scores["score"].to_numpy(dtype=float))
    report = UatReport(
        experiment=spec.name,
        model_name=spec.name,
        model_version=version.version,
        selection=selection,
        rows=len(scores),
        metrics=metrics,
        comparison=compare_with_training(metrics, version.metrics),
        score_distribution=histogram,
        score_summary={**score_summary, **summary},
        primary_metric=version.primary_metric,
    )
    paths = write_report(report, uat_report_dir(reports_dir, spec.name, version.version))
    return UatRun(report, paths, table_version, version, metric_bar(spec, version.primary_metric))


def _score_distribution(score: np.ndarray) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Summary and decile histogram of the score (distance, error or anomaly score)."""
    edges = np.unique(np.quantile(score, np.linspace(0, 1, 11)))
    if len(edges) < 2:
        edges = np.array([score.min(), score.min() + 1.0])
    counts, edges = np.histogram(score, bins=edges)
    histogram = [
        {
            "bucket": f"[{lo:.3g}, {hi:.3g}{']' if i == len(counts) - 1 else ')'}",
            "rows": int(c),
            "share": float(c / len(score)),
        }
        for i, (lo, hi, c) in enumerate(zip(edges[:-1], edges[1:], counts, strict=True))
    ]
    summary = {
        "mean_score": float(score.mean()),
        "p10": float(np.quantile(score, 0.1)),
        "p50": float(np.quantile(score, 0.5)),
        "p90": float(np.quantile(score, 0.9)),
    }
    return summary, histogram
