"""Approval requests and decisions as plain snapshots, and the statuses a request can have.

Nothing here imports SQLAlchemy: the read-only commands (`aurora approvals list`, `aurora
status`) build these from sqlite3 rows (governance/sqlite_reads.py).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

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
