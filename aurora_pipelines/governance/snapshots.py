"""Approval requests and decisions as plain snapshots, and the statuses a request can have.

Nothing here imports SQLAlchemy: the read-only commands (`aurora approvals list`, `aurora
status`) build these from sqlite3 rows (governance/sqlite_reads.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aurora_pipelines.governance.policy import Gate, Policy

# Statuses of an approval request. Only `pending` can change; the others are final.
PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
CHANGES_REQUESTED = "changes_requested"
SUPERSEDED = "superseded"
EXPIRED = "expired"
STATUSES: tuple[str, ...] = (PENDING, APPROVED, REJECTED, CHANGES_REQUESTED, SUPERSEDED, EXPIRED)

TIER_KEY = "risk_tier"  # the request's risk tier, in its `details`


@dataclass(frozen=True)
class DecisionRecord:
    """One person's decision on a request (a quorum gate collects several)."""

    actor: str
    role: str
    decision: str
    comment: str | None
    decided_at: datetime
    audit_seq: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "decided_at": self.decided_at.isoformat()}


@dataclass(frozen=True)
class ApprovalRequest:
    """A snapshot of one approval request (not a live database object)."""

    id: int
    experiment: str
    gate: str
    model_name: str
    model_version: str
    model_digest: str
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None
    correlation_id: str | None
    details: dict[str, Any] | None
    decision_seq: int | None
    decisions: tuple[DecisionRecord, ...] = ()

    @property
    def target(self) -> str:
        return f"approval_request/{self.id}"

    @property
    def tier(self) -> str | None:
        """The risk tier the request was filed under (None: untiered, top-level gates)."""
        return (self.details or {}).get(TIER_KEY)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO strings."""
        data = asdict(self)
        for key in ("requested_at", "decided_at"):
            data[key] = data[key].isoformat() if data[key] else None
        data["decisions"] = [d.to_dict() for d in self.decisions]
        data["tier"] = self.tier
        return data

    def approvers(self) -> dict[str, str]:
        """role -> person, for the approvals given on this request so far."""
        return {d.role: d.actor for d in self.decisions if d.decision == "approve"}


def gate_of(policy: Policy, request: ApprovalRequest) -> Gate | None:
    """The gate spec governing `request`: its gate in its tier's chain (None if the policy no
    longer has that gate or tier)."""
    if request.gate not in policy.gates:
        return None
    if request.tier is not None and request.tier not in policy.tiers:
        return None
    return policy.gate(request.gate, request.tier)


def expires_at(policy: Policy, request: ApprovalRequest) -> datetime | None:
    """When `request` expires under the current policy (None: its gate has no time limit)."""
    gate = gate_of(policy, request)
    hours = None if gate is None else gate.expires_after_hours
    return None if hours is None else request.requested_at + timedelta(hours=hours)
