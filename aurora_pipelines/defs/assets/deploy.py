"""deploy/staging, serve/uat_scores and deploy/production: bundle the approved version and move
its alias; between the two gates the staging model scores the UAT set."""

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.metadata import (
    actor_of,
    commit_info,
    correlation_id,
    materialize,
)
from aurora_pipelines.defs.assets.stage_asset import stage_asset
from aurora_pipelines.defs.resources import (
    ArtifactStoreResource,
    GovernanceResource,
    LakeResource,
    MlflowRegistryResource,
    SparkResource,
)
from aurora_pipelines.lifecycle import GATES, UAT_CHECK, Gate
from aurora_pipelines.specs import ExperimentSpec


def _deploy_asset(spec: ExperimentSpec, gate: Gate) -> dg.AssetsDefinition:
    stages = GATES[gate]

    @stage_asset(
        spec,
        stages.deployment,
        deps=[stages.approval],
        kinds={"mlflow"},
        description=f"Deployment bundle in the artifact store; MLflow alias `{stages.alias}`"
        + (f" (strategy: {spec.deployment.strategy})." if gate == Gate.production else "."),
        tags={"aurora/gate": gate.value},
    )
    def _asset(
        context: dg.AssetExecutionContext,
        registry: MlflowRegistryResource,
        governance: GovernanceResource,
        artifacts: ArtifactStoreResource,
        lake: LakeResource,
    ) -> dg.MaterializeResult:
        # Imported on use: mlflow adds seconds to every code-location load.
        from aurora_pipelines.deploy.promotion import candidate_for_gate, promote
        from aurora_pipelines.explain.generate import model_card_dir

        store = governance.store()
        candidate = candidate_for_gate(
            registry.tracking_uri, spec.name, gate, governance=store, experiment=spec.name
        )
        card = model_card_dir(lake.layout.reports_dir, spec.name, candidate.version)
        deployment = promote(
            gate=gate,
            experiment=spec.name,
            candidate=candidate,
            governance=store,
            store=artifacts.store(),
            tracking_uri=registry.tracking_uri,
            actor=actor_of(context) or spec.owner,
            correlation_id=correlation_id(context),
            model_card=card if card.is_dir() else None,
            strategy=spec.deployment.strategy,
            canary_share=spec.deployment.canary.steps[0],
        )
        return dg.MaterializeResult(
            metadata={
                "model_version": deployment.version,
                "alias": deployment.alias,
                "strategy": deployment.strategy,
                "model_digest": deployment.digest,
                "bundle": deployment.bundle_uri,
                "approval_request_id": deployment.approval_id,
                "deployment_id": deployment.deployment_id or 0,
                "previous_version": deployment.previous_version or "none",
            }
        )

    return _asset


def _bar_text(spec: ExperimentSpec) -> str:
    minimum = spec.training.metric_min
    return "unset: the bound train/model derived" if minimum is None else str(minimum)


def _uat_asset(spec: ExperimentSpec) -> dg.AssetsDefinition:
    key = dg.AssetKey(spec.key(*lifecycle.UAT_SCORES))

    @stage_asset(
        spec,
        lifecycle.UAT_SCORES,
        deps=[lifecycle.STAGING, lifecycle.FEATURES],
        kinds={"spark", "delta", "html"},
        description="UAT: the `staging` model scores the UAT set on Spark; the report (metrics "
        "vs. training, score distribution) goes to the production approval request.",
        check_specs=[
            dg.AssetCheckSpec(
                UAT_CHECK,
                asset=key,
                description="UAT value of the metric the version was trained on meets the "
                f"experiment's bar (training.metric_min {_bar_text(spec)}: a minimum, or "
                "a maximum for rmse/mae/log_loss); a warning for the MRM approver, not a block.",
            )
        ],
    )
    def uat_scores(
        context: dg.AssetExecutionContext,
        spark: SparkResource,
        lake: LakeResource,
        registry: MlflowRegistryResource,
    ) -> dg.MaterializeResult:
        from aurora_pipelines.deploy.uat import run_uat
        from aurora_pipelines.errors import NotFound
        from aurora_pipelines.sources.access import SourceAccess

        version = registry.alias_version(spec.name, "staging")
        if version is None:
            raise NotFound(f"model '{spec.name}' has no `staging` version; deploy to staging first")
        settings = lake.settings_for(actor_of(context))
        run = run_uat(
            spark.spark_session,
            spec,
            tracking_uri=registry.tracking_uri,
            model_version=version,
            features_path=lake.stage_path(spec, lifecycle.FEATURES),
            output_path=lake.path(spec.name, *lifecycle.UAT_SCORES),
            reports_dir=lake.layout.reports_dir,
            commit_info=commit_info(context),
            # A uat_source is read as the experiment's team: grants and PII rules apply.
            access=SourceAccess.from_settings(settings, spec.team, experiment=spec.name),
        )
        return materialize(run, table=lake.path(spec.name, *lifecycle.UAT_SCORES))

    return uat_scores


def build_deploy_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    return [
        _deploy_asset(spec, Gate.staging),
        _uat_asset(spec),
        _deploy_asset(spec, Gate.production),
    ]
