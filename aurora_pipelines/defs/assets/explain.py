"""explain/model_card: the model card (SHAP, holdout metrics with CIs, slices, lineage) of the
version the staging gate decides on; its path is attached to the approval request."""

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.metadata import path_url, to_metadata
from aurora_pipelines.defs.assets.stage_asset import stage_asset
from aurora_pipelines.defs.resources import (
    GovernanceResource,
    LakeResource,
    MlflowRegistryResource,
)
from aurora_pipelines.lifecycle import Gate
from aurora_pipelines.specs import ExperimentSpec


def build_explain_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    @stage_asset(
        spec,
        lifecycle.MODEL_CARD,
        deps=[lifecycle.MODEL],
        kinds={"shap", "html"},
        description="Model card of the training candidate (HTML + Markdown): SHAP global "
        "importance and interactions, holdout metrics with bootstrap CIs, metrics by slice of "
        "the sensitive attribute, data lineage, limitations, approval history.",
    )
    def model_card(
        context: dg.AssetExecutionContext,
        registry: MlflowRegistryResource,
        governance: GovernanceResource,
        lake: LakeResource,
    ) -> dg.MaterializeResult:
        # Imported on use: mlflow, sklearn and shap add seconds to every code-location load.
        from aurora_pipelines.deploy.promotion import candidate_for_gate
        from aurora_pipelines.explain.generate import generate_model_card
        from aurora_pipelines.explain.model_card import DataSource
        from aurora_pipelines.lake import delta
        from aurora_pipelines.profiling.experiment import latest_quality_score

        store = governance.store()
        candidate = candidate_for_gate(
            registry.tracking_uri, spec.name, Gate.staging, governance=store, experiment=spec.name
        )
        raw_path = lake.stage_path(spec, lifecycle.RAW)
        features_path = lake.stage_path(spec, lifecycle.FEATURES)
        card, files = generate_model_card(
            spec=spec,
            tracking_uri=registry.tracking_uri,
            model_name=candidate.model_name,
            model_version=candidate.version,
            model_digest=candidate.digest,
            features=delta.read_pandas(features_path),
            data_sources=[
                DataSource(
                    f"source {spec.source.display}", str(raw_path), str(delta.version(raw_path))
                ),
                DataSource(
                    f"features ({spec.features.dbt_model})",
                    str(features_path),
                    str(delta.version(features_path)),
                ),
            ],
            # From the profile the engine wrote, not from Dagster's event log.
            quality_score=latest_quality_score(lake.settings_for(None), spec.data_owner),
            reports_dir=lake.layout.reports_dir,
            governance=store,
        )
        summary = card.summary()
        return dg.MaterializeResult(
            metadata={
                "model_version": candidate.version,
                "model_digest": candidate.digest,
                "model_card": path_url(files.html),
                "model_card_markdown": path_url(files.markdown),
                "shap_method": card.explanation.method,
                "top_features": dg.MetadataValue.md(
                    card.explanation.importance.head(10).to_markdown(index=False)
                ),
                "holdout_metrics": dg.MetadataValue.json(summary["holdout_metrics"]),
                "disparity_ratio": summary["disparity_ratio"],
                **to_metadata(card.metadata_views()),
            }
        )

    return [model_card]
