"""A gate's approval request: assess the risk tier, check compliance, file (or find) the
request for the exact candidate and judge it.

Stage function of `governance/<gate>_approval`: the staging gate decides on the recorded
training candidate, the production gate on what `staging` serves (deploy/promotion.py). The
experiment's risk tier (policy `tier_rule` over the spec's `governance.risk`) picks the gate's
chain and its compliance requirements; it is tagged on the model version and recorded on the
request. A request is filed only when every requirement is met; otherwise the `compliance`
check names what is missing and the `approved` check fails too, whatever was approved before.
The request carries what the checker reviews: the model card of exactly that version and, for
production, its UAT report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurora_pipelines.lifecycle import Gate
from aurora_pipelines.results import CheckVerdict, JsonValue, MetadataDict, Severity

if TYPE_CHECKING:
    from aurora_pipelines.deploy.promotion import Candidate
    from aurora_pipelines.governance.approvals import ApprovalRequest
    from aurora_pipelines.governance.compliance import ComplianceReport
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.governance.tiers import TierAssessment
    from aurora_pipelines.specs import RiskSpec

APPROVED_CHECK = "approved"
COMPLIANCE_CHECK = "compliance"


@dataclass(frozen=True)
class GateRequest:
    gate: Gate
    candidate: Candidate
    request: ApprovalRequest | None  # None: compliance failed before any request was filed
    approved: bool
    reason: str
    approvers: list[str]
    tier: TierAssessment
    chain: str  # who decides this gate in the tier's chain
    compliance: ComplianceReport
    superseded: list[int]  # pending requests voided by a tier change
    revalidation_due: datetime | None

    @property
    def waiting(self) -> bool:
        """Filed, compliant and undecided: the gate waits for a person, nothing has failed."""
        return (
            not self.approved
            and self.compliance.passed
            and self.request is not None
            and self.request.status == "pending"
        )

    def as_metadata(self) -> MetadataDict:
        request = self.request
        details = (request.details if request else None) or {}
        return {
            "approval_request_id": request.id if request else None,
            "status": request.status if request else "not filed (compliance)",
            "model_version": self.candidate.version,
            "model_digest": self.candidate.digest,
            "requested_by": request.requested_by if request else None,
            "approvers": ", ".join(self.approvers),
            "risk_tier": self.tier.tier,
            "risk_tier_reason": self.tier.reason,
            "gate_chain": self.chain,
            "compliance": "met" if self.compliance.passed else "NOT met",
            "superseded_by_tier_change": ", ".join(f"#{i}" for i in self.superseded) or None,
            "revalidation_due": self.revalidation_due.isoformat()
            if self.revalidation_due
            else None,
            **{
                name: Path(details[name])
                for name in ("model_card", "uat_report")
                if details.get(name)
            },
        }

    def checks(self) -> list[CheckVerdict]:
        request_id = self.request.id if self.request else None
        return [
            CheckVerdict(
                COMPLIANCE_CHECK,
                passed=self.compliance.passed,
                description=self.compliance.reason(),
                metadata={
                    "risk_tier": self.tier.tier,
                    "results": JsonValue(self.compliance.to_dict()),
                },
            ),
            CheckVerdict(
                APPROVED_CHECK,
                passed=self.approved,
                # Waiting for a decision is a stop, not an error: WARN, so the run succeeds up
                # to the gate (the asset skips what follows); a rejection stays an ERROR.
                severity=Severity.WARN if self.waiting else Severity.ERROR,
                description=self.reason,
                metadata={
                    "approval_request_id": request_id,
                    "status": "waiting for a decision" if self.waiting else None,
                    "who_must_decide": f"{self.chain}: {', '.join(self.approvers)}"
                    if self.waiting
                    else None,
                    "reason": self.reason,
                    "approvers": ", ".join(self.approvers),
                    "risk_tier": self.tier.tier,
                },
            ),
        ]


def _tag_tier(tracking_uri: str, candidate: Candidate, tier: str) -> None:
    """Record the tier on the MLflow model version (`aurora.risk_tier`)."""
    from mlflow import MlflowClient

    from aurora_pipelines.governance.tiers import RISK_TIER_TAG

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.set_model_version_tag(candidate.model_name, candidate.version, RISK_TIER_TAG, tier)


def request_gate_approval(
    store: GovernanceStore,
    *,
    gate: Gate,
    experiment: str,
    risk: RiskSpec | None,
    tracking_uri: str,
    reports_dir: Path,
    requested_by: str,
    correlation_id: str,
    run_id: str,
) -> GateRequest:
    """Assess the tier, check compliance, file the gate's request for its candidate
    (idempotent) and verify its decision."""
    from aurora_pipelines.deploy.promotion import candidate_for_gate
    from aurora_pipelines.deploy.uat import uat_evidence
    from aurora_pipelines.explain.generate import model_card_dir, model_card_paths
    from aurora_pipelines.governance.compliance import read_card_facts
    from aurora_pipelines.governance.tiers import assess_tier

    candidate = candidate_for_gate(
        tracking_uri, experiment, gate, governance=store, experiment=experiment
    )
    tier = assess_tier(store.policy, risk)
    if tier.tier is not None:
        _tag_tier(tracking_uri, candidate, tier.tier)
    evidence = model_card_paths(reports_dir, experiment, candidate.version)
    if gate == Gate.production:
        # The UAT report of exactly this version, for the MRM approver.
        evidence.update(uat_evidence(reports_dir, experiment, candidate.version))
    return file_gate_request(
        store,
        gate=gate,
        experiment=experiment,
        candidate=candidate,
        tier=tier,
        card=read_card_facts(model_card_dir(reports_dir, experiment, candidate.version)),
        evidence=evidence,
        requested_by=requested_by,
        correlation_id=correlation_id,
        run_id=run_id,
    )


def file_gate_request(
    store: GovernanceStore,
    *,
    gate: Gate,
    experiment: str,
    candidate: Candidate,
    tier: TierAssessment,
    card: dict[str, Any] | None,
    evidence: dict[str, Any],
    requested_by: str,
    correlation_id: str,
    run_id: str,
) -> GateRequest:
    """The governance half of the gate, for a known candidate, tier, card facts and evidence.

    Applies the tier (a change supersedes pending requests of the old tier), checks the tier's
    requirements (a failure is audited as `approval_blocked` and files nothing), else files
    the request under the tier and verifies it against the tier's chain.
    """
    from aurora_pipelines.governance.compliance import APPROVAL_BLOCKED, evaluate_compliance
    from aurora_pipelines.governance.tiers import describe_gate

    policy = store.policy
    name, version, digest = candidate.model_name, candidate.version, candidate.digest
    superseded = store.apply_tier(experiment, name, tier.tier, requested_by, correlation_id)
    compliance = evaluate_compliance(
        policy.requirements(tier.tier),
        tier=tier.tier,
        gate=gate.value,
        experiment=experiment,
        model_version=version,
        model_digest=digest,
        card=card,
        uat=evidence,
    )
    common = {
        "gate": gate,
        "candidate": candidate,
        "approvers": list(policy.approvers_for_gate(gate.value, tier.tier)),
        "tier": tier,
        "chain": describe_gate(policy.gate(gate.value, tier.tier)),
        "compliance": compliance,
        "superseded": superseded,
    }
    if not compliance.passed:
        store.audit(
            APPROVAL_BLOCKED,
            requested_by,
            f"model/{name}/{version}@{gate.value}",
            {"experiment": experiment, "model_digest": digest, **compliance.to_dict()},
            correlation_id,
        )
        return GateRequest(
            **common,
            request=store.latest_request(experiment, gate.value, name, version),
            approved=False,
            reason=f"no approval request filed for version {version}: its `{COMPLIANCE_CHECK}` "
            "check fails (it names what is missing); fix that, then rematerialize this gate",
            revalidation_due=None,
        )
    request = store.request_approval(
        experiment=experiment,
        gate=gate.value,
        model_name=name,
        model_version=version,
        model_digest=digest,
        requested_by=requested_by,
        correlation_id=correlation_id,
        details={"dagster_run_id": run_id, **evidence, "compliance": compliance.to_dict()},
        tier=tier.tier,
    )
    verdict = store.verify_approval(gate.value, name, version, digest, tier=tier.tier)
    approved = verdict.request if verdict.ok else None
    return GateRequest(
        **common,
        request=request,
        approved=verdict.ok,
        reason=verdict.reason,
        revalidation_due=store.revalidation_due(approved) if approved else None,
    )
