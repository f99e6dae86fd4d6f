"""governance/*_approval: maker-checker gates as assets with a blocking verification check.

Materializing the asset files (or finds) the approval request for the exact model version
and artifact digest; its check passes only when an allowed role who is not the requester
approved exactly that. Nothing downstream (deployment) can run until it passes.
"""

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.metadata import actor_of, correlation_id
from aurora_pipelines.defs.assets.stage_asset import stage_asset
from aurora_pipelines.defs.resources import GovernanceResource, LakeResource, MlflowRegistryResource
from aurora_pipelines.lifecycle import GATES, Gate
from aurora_pipelines.specs import ExperimentSpec

APPROVED_CHECK = "approved"


def _approval_asset(spec: ExperimentSpec, gate: Gate, *upstream: lifecycle.Stage):
    key = dg.AssetKey(spec.key(*GATES[gate].approval))

    @stage_asset(
        spec,
        GATES[gate].approval,
        deps=upstream,
        kinds={"sqlite"},
        description=f"Approval request for the {gate.value} gate, bound to model name, version "
        "and artifact digest (maker-checker).",
        tags={"aurora/gate": gate.value},
        check_specs=[
            dg.AssetCheckSpec(
                APPROVED_CHECK,
                asset=key,
                blocking=True,
                description=f"An allowed {gate.value} approver (not the requester) approved "
                "exactly this model version and digest.",
            )
        ],
    )
    def _asset(
        context: dg.AssetExecutionContext,
        registry: MlflowRegistryResource,
        governance: GovernanceResource,
        lake: LakeResource,
    ) -> dg.MaterializeResult:
        # Imported on use: mlflow adds seconds to every code-location load.
        from aurora_pipelines.deploy.promotion import candidate_for_gate
        from aurora_pipelines.deploy.uat import uat_evidence
        from aurora_pipelines.explain.generate import model_card_paths

        store = governance.store()
        candidate = candidate_for_gate(
            registry.tracking_uri, spec.name, gate, governance=store, experiment=spec.name
        )
        request = store.request_approval(
            experiment=spec.name,
            gate=gate.value,
            model_name=candidate.model_name,
            model_version=candidate.version,
            model_digest=candidate.digest,
            requested_by=actor_of(context) or spec.owner,
            correlation_id=correlation_id(context),
            # The checker reviews the card of exactly this version before deciding.
            details={
                "dagster_run_id": context.run_id,
                **model_card_paths(lake.layout.reports_dir, spec.name, candidate.version),
                # Production: the UAT report of exactly this version, for the MRM approver.
                **(
                    uat_evidence(lake.layout.reports_dir, spec.name, candidate.version)
                    if gate == Gate.production
                    else {}
                ),
            },
        )
        verdict = store.verify_approval(
            gate.value, candidate.model_name, candidate.version, candidate.digest
        )
        approvers = store.policy.approvers_for_gate(gate.value)
        return dg.MaterializeResult(
            metadata={
                "approval_request_id": request.id,
                "status": request.status,
                "model_version": candidate.version,
                "model_digest": candidate.digest,
                "requested_by": request.requested_by,
                "approvers": ", ".join(approvers),
                **{
                    name: dg.MetadataValue.path(request.details[name])
                    for name in ("model_card", "uat_report")
                    if (request.details or {}).get(name)
                },
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=APPROVED_CHECK,
                    passed=verdict.ok,
                    metadata={
                        "approval_request_id": request.id,
                        "reason": verdict.reason,
                        "approvers": ", ".join(approvers),
                    },
                    description=verdict.reason,
                )
            ],
        )

    return _asset


def build_governance_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    return [
        _approval_asset(spec, Gate.staging, lifecycle.MODEL, lifecycle.MODEL_CARD),
        _approval_asset(spec, Gate.production, lifecycle.STAGING, lifecycle.UAT_SCORES),
    ]
