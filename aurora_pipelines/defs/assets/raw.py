"""raw and raw_batch: governed source -> Delta, on Spark."""

from typing import TYPE_CHECKING

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.metadata import actor_of, commit_info, path_url, table_schema
from aurora_pipelines.defs.assets.stage_asset import stage_asset
from aurora_pipelines.defs.resources import LakeResource, SparkResource
from aurora_pipelines.specs import ExperimentSpec, SourceSpec

if TYPE_CHECKING:
    from aurora_pipelines.profiling.expectations import SuiteValidation

EXPECTATIONS_CHECK = "expectations"


def _ingest_asset(
    spec: ExperimentSpec,
    stage: lifecycle.Stage,
    source: SourceSpec,
    required: dict[str, str],
    description: str,
    skip_roles: tuple[str, ...] = (),
) -> dg.AssetsDefinition:
    key = dg.AssetKey(spec.key(*stage))

    @stage_asset(
        spec,
        stage,
        kinds={"spark", "delta"},
        description=description,
        tags={"aurora/stage": "raw"},
        check_specs=[
            dg.AssetCheckSpec(
                EXPECTATIONS_CHECK,
                asset=key,
                blocking=True,
                description="The batch meets the expectation suite generated from the profile "
                "(types, not-null, ranges, category sets).",
            )
        ],
    )
    def _asset(
        context: dg.AssetExecutionContext, spark: SparkResource, lake: LakeResource
    ) -> dg.MaterializeResult:
        # Imported on use: pandas and Great Expectations stay out of the code location's load.
        from aurora_pipelines.profiling.experiment import validate_batch
        from aurora_pipelines.sources.access import SourceAccess
        from aurora_pipelines.sources.ingest import ingest_source

        settings = lake.settings_for(actor_of(context))
        result = ingest_source(
            spark.spark_session,
            source,
            lake.path(spec.name, *stage),
            required,
            access=SourceAccess.from_settings(settings, spec.team, experiment=spec.name),
            commit_info=commit_info(context),
            settings=settings,
        )
        validation = validate_batch(
            spark.spark_session, settings, spec, result.path, result.rows, skip_roles
        )
        return dg.MaterializeResult(
            check_results=[_expectations_result(validation)],
            metadata={
                "dagster/row_count": result.rows,
                "dagster/column_schema": table_schema(result.columns),
                "source": source.display,
                "read_as_team": spec.team,
                "pii_applied": dg.MetadataValue.json(result.pii),
                "delta_path": path_url(result.path),
                "delta_version": result.version,
            },
        )

    return _asset


def _expectations_result(validation: "SuiteValidation | None") -> dg.AssetCheckResult:
    if validation is None:
        return dg.AssetCheckResult(
            check_name=EXPECTATIONS_CHECK,
            passed=True,
            description="no expectation suite yet: the first profile of raw generates it",
        )
    failed = validation.failed_dicts()
    return dg.AssetCheckResult(
        check_name=EXPECTATIONS_CHECK,
        passed=validation.success,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "evaluated": validation.evaluated,
            "failed": len(failed),
            "failed_expectations": dg.MetadataValue.json(failed),
        },
        description=None
        if validation.success
        else (
            f"{len(failed)} expectation(s) failed: "
            + "; ".join(f"{f['expectation']} on {f['column']}" for f in failed[:5])
            + ". Fix the source batch, or re-profile raw to accept the new data as normal"
        ),
    )


def build_raw_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    training_columns = {
        "target": spec.target,
        "id_column": spec.id_column or "",
        "time_column": spec.time_column or "",
    }
    return [
        _ingest_asset(
            spec,
            lifecycle.RAW,
            spec.source,
            training_columns,
            f"Copy of governed source {spec.source.display} as a Delta table.",
        ),
        _ingest_asset(
            spec,
            lifecycle.RAW_BATCH,
            spec.scoring_source,
            {"id_column": spec.id_column or ""},
            f"The batch production scores, from {spec.scoring_source.display}.",
            skip_roles=("target",),
        ),
    ]
