"""deploy/staging and deploy/production: bundle the approved version and move its alias."""

import dagster as dg

from assets.metadata import correlation_id
from aurora_pipelines.lifecycle import GATES, Gate
from aurora_pipelines.specs import ExperimentSpec
from resources import AuroraResource


def _deploy_asset(spec: ExperimentSpec, gate: Gate) -> dg.AssetsDefinition:
    stages = GATES[gate]

    @dg.asset(
        key=spec.key(*stages.deployment),
        deps=[spec.key(*stages.approval)],
        group_name=spec.name,
        kinds={"mlflow"},
        description=f"Deployment bundle in the artifact store; MLflow alias `{stages.alias}`.",
        owners=[f"team:{spec.team}"],
        tags={"aurora/gate": gate.value},
    )
    def _asset(context: dg.AssetExecutionContext, aurora: AuroraResource) -> dg.MaterializeResult:
        # Imported on use: mlflow adds seconds to every code-location load.
        from aurora_pipelines.deploy.promotion import candidate_for_gate, promote

        deployment = promote(
            gate=gate,
            experiment=spec.name,
            candidate=candidate_for_gate(aurora.tracking_uri, spec.name, gate),
            governance=aurora.governance(),
            store=aurora.artifact_store(),
            tracking_uri=aurora.tracking_uri,
            actor=aurora.user or spec.owner,
            correlation_id=correlation_id(context),
        )
        return dg.MaterializeResult(
            metadata={
                "model_version": deployment.version,
                "alias": deployment.alias,
                "model_digest": deployment.digest,
                "bundle": deployment.bundle_uri,
                "approval_request_id": deployment.approval_id,
                "previous_version": deployment.previous_version or "none",
            }
        )

    return _asset


def build_deploy_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    return [_deploy_asset(spec, Gate.staging), _deploy_asset(spec, Gate.production)]
