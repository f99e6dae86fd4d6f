"""train/champion_comparison: the training candidate vs the serving champion, both scored on the
same recent labelled data (engine: `monitoring/candidate_evaluation.py`). Informational for
the approvers; it promotes nothing."""

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.metadata import to_metadata
from aurora_pipelines.defs.assets.stage_asset import stage_asset
from aurora_pipelines.defs.resources import (
    GovernanceResource,
    LakeResource,
    MlflowRegistryResource,
    SparkResource,
)
from aurora_pipelines.specs import ExperimentSpec


def build_comparison_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    @stage_asset(
        spec,
        lifecycle.CHAMPION_COMPARISON,
        deps=[lifecycle.MODEL],
        kinds={"mlflow", "spark"},
        description="The version train/model produced (its candidate record) vs the champion "
        "on the same recent labelled rows, with the interval of the improvement; the candidate "
        "still needs the staging and production approvals.",
    )
    def champion_comparison(
        context: dg.AssetExecutionContext,
        spark: SparkResource,
        lake: LakeResource,
        registry: MlflowRegistryResource,
        governance: GovernanceResource,
    ) -> dg.MaterializeResult:
        from aurora_pipelines.monitoring.candidate_evaluation import run_champion_comparison

        candidate = governance.store().latest_candidate(spec.name)
        result, report = run_champion_comparison(
            spark.spark_session,
            spec,
            tracking_uri=registry.tracking_uri,
            champion=registry.alias_version(spec.name, "champion"),
            candidate=candidate.model_version if candidate else None,
            scoring_features=lake.stage_path(spec, lifecycle.SCORING_FEATURES),
            reports_dir=lake.layout.report_dir(spec.name, "train"),
        )
        return dg.MaterializeResult(
            metadata=to_metadata({**result.as_metadata(), "report": report})
        )

    return [champion_comparison]
