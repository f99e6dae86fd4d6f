"""eda/profile: a sampled profile of the raw table, gated on the data-quality score."""

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.metadata import (
    actor_of,
    commit_info,
    path_url,
    table_metadata,
    to_metadata,
)
from aurora_pipelines.defs.assets.stage_asset import stage_asset
from aurora_pipelines.defs.resources import LakeResource, SparkResource
from aurora_pipelines.specs import ExperimentSpec

QUALITY_CHECK = "quality_score_min"


def build_eda_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    key = dg.AssetKey(spec.key(*lifecycle.PROFILE))
    minimum = spec.profiling.quality_min

    @stage_asset(
        spec,
        lifecycle.PROFILE,
        deps=[lifecycle.RAW],
        kinds={"spark", "delta", "html"},
        description="Sampled profile of the raw table: types, missingness, distributions, "
        "outliers, target associations and a 0-100 data-quality score.",
        check_specs=[
            dg.AssetCheckSpec(
                QUALITY_CHECK,
                asset=key,
                blocking=True,
                description=f"Quality score is at least {minimum} (profiling.quality_min).",
            )
        ],
    )
    def profile(
        context: dg.AssetExecutionContext, spark: SparkResource, lake: LakeResource
    ) -> dg.MaterializeResult:
        # Imported on use: pandas, delta-rs and the profiler stay out of the code location's load.
        from aurora_pipelines.lake import delta
        from aurora_pipelines.profiling.experiment import profile_experiment, read_delta_input
        from aurora_pipelines.profiling.plots import metadata_views

        raw = lake.path(spec.name, *lifecycle.RAW)
        found = read_delta_input(spark.spark_session, raw)
        done = profile_experiment(
            lake.settings_for(actor_of(context)),
            spec,
            found.df,
            found.source,
            progress=lambda stage: context.log.info(f"profile: {stage}"),
            files=found.files,
        )
        result = done.profile
        columns = result.columns_frame()
        table_path = lake.path(spec.name, *lifecycle.PROFILE)
        version = delta.write_table(
            table_path, columns.astype(str), commit_info=commit_info(context)
        )
        score = round(float(result.quality_score), 2)
        passed = score >= minimum
        return dg.MaterializeResult(
            metadata={
                "quality_score": score,
                "quality_breakdown": dg.MetadataValue.json(result.quality_breakdown),
                "columns": dg.MetadataValue.md(columns.to_markdown(index=False)),
                "sampling": dg.MetadataValue.json(result.sampling.model_dump(mode="json")),
                "sampling_reason": result.sampling.reason,
                "warnings": dg.MetadataValue.json(result.warnings),
                "leakage_hints": dg.MetadataValue.json(result.leakage_hints),
                "report": path_url(done.html),
                "profile_json": path_url(done.json),
                "expectation_suite": path_url(done.suite),
                "delta_path": path_url(table_path),
                "delta_version": version,
                **to_metadata(metadata_views(result)),
                **table_metadata(table_path),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=QUALITY_CHECK,
                    passed=passed,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={
                        "quality_score": score,
                        "minimum": minimum,
                        "failing_components": dg.MetadataValue.json(
                            result.failing_components(minimum)
                        ),
                    },
                    description=None
                    if passed
                    else (
                        f"quality score {score} is below the minimum {minimum}; fix the data or "
                        "lower profiling.quality_min in the spec with a documented reason"
                    ),
                )
            ],
        )

    return [profile]
