"""governance/*_approval: maker-checker gates as assets with two blocking checks.

Materializing the asset assesses the experiment's risk tier, checks the tier's compliance
requirements (`compliance`: card sections, disparity bound, holdout CIs, UAT report) and, only
if they are met, files (or finds) the approval request for the exact model version and
artifact digest; `approved` passes only when the tier's chain for the gate (allowed roles,
quorum, not the requester) approved exactly that. Nothing downstream (deployment) can run
until both pass.
"""

from collections.abc import Iterator

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.links import with_links
from aurora_pipelines.defs.assets.metadata import actor_of, correlation_id, materialize
from aurora_pipelines.defs.resources import GovernanceResource, LakeResource, MlflowRegistryResource
from aurora_pipelines.deploy.gates import APPROVED_CHECK, COMPLIANCE_CHECK
from aurora_pipelines.lifecycle import GATES, Gate
from aurora_pipelines.specs import ExperimentSpec


def _approval_asset(spec: ExperimentSpec, gate: Gate, *upstream: lifecycle.Stage):
    key = dg.AssetKey(spec.key(*GATES[gate].approval))

    @dg.asset(
        key=key,
        # A pending decision stops the run here without failing it: no output, so Dagster
        # skips what depends on the gate and the run succeeds up to it.
        output_required=False,
        deps=[spec.key(*stage) for stage in upstream],
        group_name=spec.name,
        kinds={"sqlite"},
        description=f"Approval request for the {gate.value} gate, bound to model name, version "
        "and artifact digest (maker-checker).",
        owners=[f"team:{spec.team}"],
        tags={"aurora/gate": gate.value},
        check_specs=[
            dg.AssetCheckSpec(
                COMPLIANCE_CHECK,
                asset=key,
                blocking=True,
                description="The version meets its risk tier's compliance requirements (model "
                "card sections, disparity bound, holdout CIs, UAT report); no request is filed "
                "until it does.",
            ),
            dg.AssetCheckSpec(
                APPROVED_CHECK,
                asset=key,
                blocking=True,
                description=f"The risk tier's {gate.value} chain (allowed roles, quorum; never "
                "the requester) approved exactly this model version and digest.",
            ),
        ],
    )
    @with_links  # the approval request's page on the checkers' site
    def _asset(
        context: dg.AssetExecutionContext,
        registry: MlflowRegistryResource,
        governance: GovernanceResource,
        lake: LakeResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization | dg.AssetCheckResult]:
        # Imported on use: mlflow adds seconds to every code-location load.
        from aurora_pipelines.deploy.gates import request_gate_approval

        outcome = request_gate_approval(
            governance.store(),
            gate=gate,
            experiment=spec.name,
            risk=spec.governance.risk,
            tracking_uri=registry.tracking_uri,
            reports_dir=lake.layout.reports_dir,
            requested_by=actor_of(context) or spec.owner,
            correlation_id=correlation_id(context),
            run_id=context.run_id,
        )
        result = materialize(outcome)
        if not outcome.waiting:
            yield result
            return
        context.log.info(
            f"{key.to_user_string()}: waiting for approval request "
            f"#{outcome.request.id if outcome.request else '?'} ({outcome.chain})"
        )
        yield dg.AssetMaterialization(asset_key=key, metadata=result.metadata)
        yield from result.check_results or []

    return _asset


def build_governance_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    return [
        _approval_asset(spec, Gate.staging, lifecycle.MODEL, lifecycle.MODEL_CARD),
        _approval_asset(spec, Gate.production, lifecycle.STAGING, lifecycle.UAT_SCORES),
    ]
