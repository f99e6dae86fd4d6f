"""train/model for an unsupervised task: train on the feature table, register, record the
candidate, exactly as `training/stage.py` does for a supervised one (same TrainingOutcome,
same candidate record the staging gate reads, same tags and audit correlation)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from aurora_pipelines.lake import delta
from aurora_pipelines.results import JsonValue, Markdown, MetadataDict
from aurora_pipelines.training.metric_bound import MetricBound
from aurora_pipelines.training.row_sample import sample_pandas
from aurora_pipelines.training.unsupervised import UNSUPERVISED_METRICS

if TYPE_CHECKING:
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.recommend.plan import TrainingPlan
    from aurora_pipelines.specs import ExperimentSpec
    from aurora_pipelines.training.stage import TrainingOutcome

# The bar a metric must meet when the spec sets no `training.metric_min` (the supervised
# default 0.7 means nothing for these metrics): clear structure, most variance kept, and a
# detector that flags a minority.
DEFAULT_BARS = {
    "silhouette": 0.1,
    "explained_variance": 0.5,
    "average_precision": 0.0,
    "anomaly_rate": 0.5,
}


def metric_bar(spec: ExperimentSpec, metric: str) -> float:
    if "metric_min" in spec.training.model_fields_set:
        return spec.training.metric_min
    return DEFAULT_BARS.get(metric, 0.0)


def train_and_register_unsupervised(
    spec: ExperimentSpec,
    plan: TrainingPlan,
    *,
    features_path: Path,
    tracking_uri: str,
    artifact_root: Path,
    governance: GovernanceStore,
    actor: str,
    correlation_id: str,
    tags: dict[str, str],
    run_id: str | None = None,
) -> TrainingOutcome:
    from aurora_pipelines.registry.unsupervised import log_and_register_unsupervised
    from aurora_pipelines.training.stage import TrainingOutcome
    from aurora_pipelines.training.unsupervised.trainer import (
        DEFAULT_ALGORITHMS,
        train_unsupervised,
    )

    kind = spec.problem_type.value
    features_version = delta.version(features_path)
    frame = sample_pandas(
        delta.read_pandas(features_path),
        limit=spec.training.max_train_rows,
        id_column=spec.id_column,
        seed=spec.training.seed,
        experiment=spec.name,
    )
    settings = spec.unsupervised
    if settings.algorithms is None:
        known = set(DEFAULT_ALGORITHMS[kind]) | _known(kind)
        recommended = [a for a in plan.algorithms if a in known]
        settings = settings.model_copy(
            update={"algorithms": recommended or DEFAULT_ALGORITHMS[kind]}
        )
    result = train_unsupervised(
        frame,
        problem_type=kind,
        settings=settings,
        seed=spec.training.seed,
        id_column=spec.id_column,
        time_column=spec.time_column,
        experiment=spec.name,
    )
    registered = log_and_register_unsupervised(
        result,
        tracking_uri=tracking_uri,
        artifact_root=artifact_root,
        experiment_name=spec.name,
        registered_model_name=spec.name,
        training_data=frame,
        feature_table=str(features_path),
        feature_table_version=features_version,
        tags=tags,
        id_column=spec.id_column,
    )
    metric = result.primary_metric
    candidate = governance.record_candidate(
        experiment=spec.name,
        model_name=registered.name,
        model_version=registered.version,
        model_digest=registered.digest,
        primary_metric=metric,
        metric_value=result.primary_score,
        mlflow_run_id=registered.run_id,
        dagster_run_id=run_id,
        correlation_id=correlation_id,
        created_by=actor,
    )
    details: MetadataDict = {
        "problem_type": kind,
        "best_algorithm": result.best_algorithm,
        "best_params": JsonValue(result.params),
        "primary_metric": metric,
        "training_rows": result.n_rows,
        "search_rows": result.search_rows,
        "fit_seconds": round(result.fit_seconds, 3),
        "leaderboard": Markdown(pd.DataFrame(result.leaderboard).to_markdown(index=False)),
        "report": JsonValue(result.report),
        **{name: float(value) for name, value in result.metrics.items()},
    }
    if result.warnings:
        details["warnings"] = JsonValue(result.warnings)
    return TrainingOutcome(
        registered=registered,
        candidate=candidate,
        family="sklearn",
        features_path=Path(features_path),
        features_version=features_version,
        primary_metric=metric,
        score=result.primary_score,
        score_basis="search sample" if kind == "clustering" else "training rows",
        greater_is_better=UNSUPERVISED_METRICS[kind][metric],
        bound=_bound(spec, metric, UNSUPERVISED_METRICS[kind][metric]),
        details=details,
    )


def _bound(spec: ExperimentSpec, metric: str, greater_is_better: bool) -> MetricBound:
    """The bar as the metric_min check reports it (no dummy baseline exists for these)."""
    from_spec = "metric_min" in spec.training.model_fields_set
    return MetricBound(
        metric=metric,
        value=metric_bar(spec, metric),
        greater_is_better=greater_is_better,
        source="spec" if from_spec else "default",
        reason="training.metric_min of the spec"
        if from_spec
        else f"the default bar of an unsupervised {metric} (training.metric_min unset)",
    )


def _known(kind: str) -> set[str]:
    from aurora_pipelines.training.unsupervised.clustering import CLUSTER_ALGORITHMS
    from aurora_pipelines.training.unsupervised.trainer import (
        ANOMALY_ALGORITHMS,
        DIMENSION_ALGORITHMS,
    )

    return {
        "clustering": set(CLUSTER_ALGORITHMS),
        "dimensionality_reduction": set(DIMENSION_ALGORITHMS),
        "anomaly_detection": set(ANOMALY_ALGORITHMS),
    }[kind]
