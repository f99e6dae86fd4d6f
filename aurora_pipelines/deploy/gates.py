"""A gate's approval request: file (or find) it for the exact candidate and judge it.

Stage function of `governance/<gate>_approval`: the staging gate decides on the recorded
training candidate, the production gate on what `staging` serves (deploy/promotion.py). The
request carries what the checker reviews: the model card of exactly that version and, for
production, its UAT report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurora_pipelines.lifecycle import Gate
from aurora_pipelines.results import CheckVerdict, MetadataDict

if TYPE_CHECKING:
    from aurora_pipelines.deploy.promotion import Candidate
    from aurora_pipelines.governance.store import GovernanceStore

APPROVED_CHECK = "approved"


@dataclass(frozen=True)
class GateRequest:
    gate: Gate
    candidate: Candidate
    request: Any  # governance.approvals.ApprovalRequest
    approved: bool
    reason: str
    approvers: list[str]

    def as_metadata(self) -> MetadataDict:
        details = self.request.details or {}
        return {
            "approval_request_id": self.request.id,
            "status": self.request.status,
            "model_version": self.candidate.version,
            "model_digest": self.candidate.digest,
            "requested_by": self.request.requested_by,
            "approvers": ", ".join(self.approvers),
            **{
                name: Path(details[name])
                for name in ("model_card", "uat_report")
                if details.get(name)
            },
        }

    def checks(self) -> list[CheckVerdict]:
        return [
            CheckVerdict(
                APPROVED_CHECK,
                passed=self.approved,
                description=self.reason,
                metadata={
                    "approval_request_id": self.request.id,
                    "reason": self.reason,
                    "approvers": ", ".join(self.approvers),
                },
            )
        ]


def request_gate_approval(
    store: GovernanceStore,
    *,
    gate: Gate,
    experiment: str,
    tracking_uri: str,
    reports_dir: Path,
    requested_by: str,
    correlation_id: str,
    run_id: str,
) -> GateRequest:
    """File the gate's request for its candidate (idempotent) and verify its decision."""
    from aurora_pipelines.deploy.promotion import candidate_for_gate
    from aurora_pipelines.deploy.uat import uat_evidence
    from aurora_pipelines.explain.generate import model_card_paths

    candidate = candidate_for_gate(
        tracking_uri, experiment, gate, governance=store, experiment=experiment
    )
    evidence = model_card_paths(reports_dir, experiment, candidate.version)
    if gate == Gate.production:
        # The UAT report of exactly this version, for the MRM approver.
        evidence.update(uat_evidence(reports_dir, experiment, candidate.version))
    request = store.request_approval(
        experiment=experiment,
        gate=gate.value,
        model_name=candidate.model_name,
        model_version=candidate.version,
        model_digest=candidate.digest,
        requested_by=requested_by,
        correlation_id=correlation_id,
        details={"dagster_run_id": run_id, **evidence},
    )
    verdict = store.verify_approval(
        gate.value, candidate.model_name, candidate.version, candidate.digest
    )
    return GateRequest(
        gate=gate,
        candidate=candidate,
        request=request,
        approved=verdict.ok,
        reason=verdict.reason,
        approvers=list(store.policy.approvers_for_gate(gate.value)),
    )
