"""monitor/drift and monitor/performance: one daily window each, against the training reference.

Both are partitioned with `daily_partitions()`. A run without a partition key (e.g. an
unpartitioned `aurora run`) computes today's window (UTC), the day the batch was scored.
Thresholds come from the spec's `monitoring` section; WARN and ERROR asset checks carry them,
and a failed one is also an alert (JSON log line + optional webhook).
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.metadata import commit_info, materialize
from aurora_pipelines.defs.assets.partitions import daily_partitions
from aurora_pipelines.defs.assets.stage_asset import stage_asset
from aurora_pipelines.defs.resources import LakeResource, MlflowRegistryResource, SparkResource
from aurora_pipelines.errors import NotFound
from aurora_pipelines.monitoring.stage import (
    DRIFT_CHECK,
    DRIFT_WARN_CHECK,
    PERFORMANCE_CHECK,
    PREDICTION_CHECK,
    PSI_ERROR_CHECK,
    PSI_WARN_CHECK,
    MonitoringPaths,
)
from aurora_pipelines.registry.model_version import ModelVersion
from aurora_pipelines.specs import ExperimentSpec


def window_of(context: dg.AssetExecutionContext) -> str:
    """The partition key (a UTC day), or today for a run without one."""
    if context.has_partition_key:
        return context.partition_key
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _window_inputs(
    spec: ExperimentSpec,
    context: dg.AssetExecutionContext,
    spark: SparkResource,
    lake: LakeResource,
    registry: MlflowRegistryResource,
) -> dict[str, Any]:
    """Arguments `run_drift_window` and `run_performance_window` take alike: one day's window
    of `spec` against its champion."""
    return {
        "spark": spark.spark_session,
        "paths": MonitoringPaths.of(lake.layout, spec.name, data_owner=spec.data_owner),
        "monitoring": spec.monitoring,
        "experiment": spec.name,
        "day": window_of(context),
        "champion": _champion(registry, spec),
        "id_column": spec.id_column,
        "commit_info": commit_info(context),
    }


def _champion(registry: MlflowRegistryResource, spec: ExperimentSpec) -> ModelVersion:
    """The champion's handle: its own primary metric (the spec's for versions registered
    before the tag), problem type, classes and training metrics."""
    version = registry.alias_version(spec.name, "champion")
    if version is None:
        raise NotFound(f"model '{spec.name}' has no champion; pass the production gate first")
    return registry.load(
        spec.name,
        version,
        problem_type=spec.problem_type.value,
        primary_metric=spec.training.primary_metric,
    )


def build_monitoring_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    m = spec.monitoring
    drift_key = dg.AssetKey(spec.key(*lifecycle.DRIFT))
    drift_checks = [
        dg.AssetCheckSpec(
            DRIFT_WARN_CHECK,
            asset=drift_key,
            description=f"WARN: drift share at most {m.drift_share_warn} (drift_share_warn).",
        ),
        dg.AssetCheckSpec(
            DRIFT_CHECK,
            asset=drift_key,
            description=f"ERROR: drift share at most {m.drift_share_max} (drift_share_max); "
            "above it the drift sensor requests retraining.",
        ),
        dg.AssetCheckSpec(
            PSI_WARN_CHECK,
            asset=drift_key,
            description=f"WARN: every feature's PSI below its warn level (default {m.psi_warn}).",
        ),
        dg.AssetCheckSpec(
            PSI_ERROR_CHECK,
            asset=drift_key,
            description=f"ERROR: every feature's PSI below its error level "
            f"(default {m.psi_threshold}).",
        ),
        dg.AssetCheckSpec(
            PREDICTION_CHECK,
            asset=drift_key,
            description="WARN: the score distribution's PSI vs the reference scores is below "
            "the error level.",
        ),
    ]

    @stage_asset(
        spec,
        lifecycle.DRIFT,
        deps=[
            lifecycle.BATCH_SCORES,
            lifecycle.FEATURES,
            lifecycle.SCORING_FEATURES,
        ],
        partitions_def=daily_partitions(),
        kinds={"spark", "delta", "html"},
        description="Drift of one day's batch scores and logged predictions vs. the training "
        "reference: PSI, KS / chi-squared, Jensen-Shannon per feature, prediction drift, "
        "drift share; Evidently HTML report.",
        check_specs=drift_checks,
    )
    def drift(
        context: dg.AssetExecutionContext,
        spark: SparkResource,
        lake: LakeResource,
        registry: MlflowRegistryResource,
    ) -> dg.MaterializeResult:
        from aurora_pipelines.monitoring.stage import run_drift_window

        result = run_drift_window(**_window_inputs(spec, context, spark, lake, registry))
        return materialize(result, table=lake.path(spec.name, *lifecycle.DRIFT))

    assets = [drift]
    if m.labels is not None:
        assets.append(_build_performance(spec))
    return assets


def _build_performance(spec: ExperimentSpec) -> dg.AssetsDefinition:
    m = spec.monitoring
    key = dg.AssetKey(spec.key(*lifecycle.PERFORMANCE))

    @stage_asset(
        spec,
        lifecycle.PERFORMANCE,
        deps=[lifecycle.BATCH_SCORES],
        partitions_def=daily_partitions(),
        kinds={"spark", "delta"},
        description="The metric the champion was trained on (for versions registered without "
        f"it: {spec.training.primary_metric}) over one day's scores once labels arrive "
        f"({m.labels.display if m.labels else ''}), vs. training.",
        check_specs=[
            dg.AssetCheckSpec(
                PERFORMANCE_CHECK,
                asset=key,
                description=f"ERROR: the primary metric is at most {m.performance_tolerance} "
                "worse than at training (performance_tolerance).",
            )
        ],
    )
    def performance(
        context: dg.AssetExecutionContext,
        spark: SparkResource,
        lake: LakeResource,
        registry: MlflowRegistryResource,
    ) -> dg.MaterializeResult:
        from aurora_pipelines.monitoring.stage import run_performance_window

        result = run_performance_window(
            **_window_inputs(spec, context, spark, lake, registry), target=spec.target
        )
        return materialize(result, table=lake.path(spec.name, *lifecycle.PERFORMANCE))

    return performance
