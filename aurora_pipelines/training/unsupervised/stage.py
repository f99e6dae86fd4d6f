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
    if spec.training.metric_min is not None:
        return spec.training.metric_min
    return DEFAULT_BARS.get(metric, 0.0)


def unsupervised_bound(spec: ExperimentSpec, metric: str, greater_is_better: bool) -> MetricBound:
    """The bar of train/model, as the supervised stage states it: the spec's, else the default
    for the metric (no dummy baseline exists for a silhouette or an anomaly rate)."""
    value = metric_bar(spec, metric)
    if spec.training.metric_min is not None:
        return MetricBound(metric, value, greater_is_better, "spec", "training.metric_min")
    return MetricBound(
        metric,
        value,
        greater_is_better,
        "default",
        f"the default {metric} bar for {spec.problem_type.value} (set training.metric_min "
        "to choose another)",
    )


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
    bound = unsupervised_bound(spec, metric, UNSUPERVISED_METRICS[kind][metric])
    from aurora_pipelines.registry.mlflow_registry import set_version_tags

    # UAT judges the version against the same bound (registry/model_version tags).
    set_version_tags(tracking_uri, registered.name, registered.version, bound.as_tags())
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
        bound=bound,
        details=details,
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
