"""raw and raw_batch: governed source -> Delta, on Spark."""

import dagster as dg

from assets.metadata import commit_info, path_url, table_schema
from aurora_pipelines import lifecycle
from aurora_pipelines.sources.access import SourceAccess
from aurora_pipelines.sources.ingest import ingest_source
from aurora_pipelines.specs import ExperimentSpec, SourceSpec
from resources import AuroraResource


def _ingest_asset(
    spec: ExperimentSpec,
    stage: lifecycle.Stage,
    source: SourceSpec,
    required: dict[str, str],
    description: str,
) -> dg.AssetsDefinition:
    @dg.asset(
        key=spec.key(*stage),
        group_name=spec.name,
        kinds={"spark", "delta"},
        description=description,
        owners=[f"team:{spec.team}"],
        tags={"aurora/stage": "raw"},
    )
    def _asset(context: dg.AssetExecutionContext, aurora: AuroraResource) -> dg.MaterializeResult:
        result = ingest_source(
            aurora.spark(),
            source,
            aurora.lake_path(spec.name, *stage),
            required,
            access=SourceAccess.from_settings(aurora.settings, spec.team, experiment=spec.name),
            commit_info=commit_info(context),
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows,
                "dagster/column_schema": table_schema(result.columns),
                "source": source.display,
                "read_as_team": spec.team,
                "pii_applied": dg.MetadataValue.json(result.pii),
                "delta_path": path_url(result.path),
                "delta_version": result.version,
            }
        )

    return _asset


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
        ),
    ]
