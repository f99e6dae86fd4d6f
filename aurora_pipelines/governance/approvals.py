"""Maker-checker approval requests bound to one immutable model target.

A request names experiment, gate, model name, model version and the sha256 digest of the model
artifact. Only a `pending` request can be decided, only by someone other than the requester who
holds a role the policy allows for that gate; every other status is final and can never be
reused. A gate with a quorum needs one approval per listed role, each from a distinct person; a
gate with `expires_after_hours` turns undecided requests `expired`. A request records the
experiment's risk tier; its gate chain (roles, quorum, expiry, revalidation) is that tier's, and
a tier change supersedes the model's pending requests of the old tier. Nobody decides a request
twice (one `approval_decisions` row per person, enforced by a unique constraint). Each state
change commits in one transaction with its audit row; every refusal is audited as
`access_denied` in a transaction of its own.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa

from aurora_pipelines.errors import GovernanceError, NotFound, PermissionDenied
from aurora_pipelines.governance import audit
from aurora_pipelines.governance.models import (
    APPROVED,
    CHANGES_REQUESTED,
    EXPIRED,
    PENDING,
    REJECTED,
    STATUSES,
    SUPERSEDED,
    approval_decisions,
    approval_requests,
    audit_log,
)
from aurora_pipelines.governance.policy import Policy
from aurora_pipelines.governance.rows import row_data, utc
from aurora_pipelines.governance.snapshots import (
    TIER_KEY,
    ApprovalRequest,
    DecisionRecord,
    expires_at,
    gate_of,
)
from aurora_pipelines.governance.tiers import RISK_TIER_CHANGED

Decision = Literal["approve", "reject", "request_changes"]
DECISIONS: dict[str, tuple[str, str]] = {
    # decision -> (new status, audit event)
    "approve": (APPROVED, audit.APPROVAL_APPROVED),
    "reject": (REJECTED, audit.APPROVAL_REJECTED),
    "request_changes": (CHANGES_REQUESTED, audit.APPROVAL_CHANGES_REQUESTED),
}
DIGEST_PATTERN = re.compile(r"^[0-9a-f]{64}$")
SYSTEM_ACTOR = "aurora"


@dataclass(frozen=True)
class ApprovalVerdict:
    ok: bool
    reason: str
    request: ApprovalRequest | None


def normalize_digest(digest: str) -> str:
    """Lower-case sha256 hex, accepting a `sha256:` prefix; GovernanceError otherwise."""
    value = str(digest).strip().lower().removeprefix("sha256:")
    if not DIGEST_PATTERN.match(value):
        raise GovernanceError(
            f"model_digest '{digest}' is not a sha256 hex digest (64 hex characters); "
            "pass the digest of the model artifact"
        )
    return value


def _snapshot(row: sa.Row, decisions: tuple[DecisionRecord, ...] = ()) -> ApprovalRequest:
    return ApprovalRequest(**row_data(row, "requested_at", "decided_at"), decisions=decisions)


def _decisions(
    conn: sa.Connection, request_ids: list[int]
) -> dict[int, tuple[DecisionRecord, ...]]:
    if not request_ids:
        return {}
    d = approval_decisions.c
    rows = conn.execute(
        sa.select(approval_decisions)
        .where(d.request_id.in_(request_ids))
        .order_by(d.request_id, d.audit_seq)
    ).all()
    out: dict[int, list[DecisionRecord]] = {}
    for r in rows:
        out.setdefault(r.request_id, []).append(
            DecisionRecord(
                actor=r.actor,
                role=r.role,
                decision=r.decision,
                comment=r.comment,
                decided_at=utc(r.decided_at),
                audit_seq=r.audit_seq,
            )
        )
    return {k: tuple(v) for k, v in out.items()}


def _snapshots(conn: sa.Connection, rows: list[sa.Row]) -> list[ApprovalRequest]:
    decisions = _decisions(conn, [r.id for r in rows])
    return [_snapshot(r, decisions.get(r.id, ())) for r in rows]


def revalidation_due(policy: Policy, request: ApprovalRequest) -> datetime | None:
    """When an approved `request` is due for revalidation (None: not approved, or never due)."""
    gate = gate_of(policy, request)
    days = None if gate is None else gate.revalidate_after_days
    if request.status != APPROVED or days is None or request.decided_at is None:
        return None
    return request.decided_at + timedelta(days=days)


def _due(policy: Policy, request: ApprovalRequest, now: datetime) -> bool:
    deadline = revalidation_due(policy, request)
    return deadline is not None and deadline <= now


def _overdue(policy: Policy, request: ApprovalRequest, now: datetime) -> bool:
    deadline = expires_at(policy, request)
    return request.status == PENDING and deadline is not None and deadline <= now


def _expire(conn: sa.Connection, policy: Policy, request: ApprovalRequest, now: datetime) -> None:
    """Mark an overdue pending request `expired` and audit it, in the caller's transaction."""
    hours = policy.gate(request.gate, request.tier).expires_after_hours
    conn.execute(
        sa.update(approval_requests)
        .where(approval_requests.c.id == request.id, approval_requests.c.status == PENDING)
        .values(
            status=EXPIRED,
            decided_at=now,
            comment=f"expired: not decided within {hours:g} h of the request",
        )
    )
    audit.append_audit(
        conn,
        audit.APPROVAL_EXPIRED,
        SYSTEM_ACTOR,
        request.target,
        {
            "gate": request.gate,
            "model_name": request.model_name,
            "model_version": request.model_version,
            "model_digest": request.model_digest,
            "expires_after_hours": hours,
            "approvals_so_far": request.approvers(),
        },
        request.correlation_id,
    )


def expire_overdue(engine: sa.Engine, policy: Policy) -> list[int]:
    """Expire every pending request older than its gate's `expires_after_hours`; their ids."""
    chains = [policy.gates, *(tier.gates for tier in policy.tiers.values())]
    gates = sorted({g for c in chains for g, spec in c.items() if spec.expires_after_hours})
    if not gates:
        return []
    t = approval_requests.c

    def work(conn: sa.Connection) -> list[int]:
        now = datetime.now(UTC)
        rows = conn.execute(
            sa.select(approval_requests)
            .where(t.status == PENDING, t.gate.in_(gates))
            .order_by(t.id)
            .with_for_update()
        ).all()
        expired = [r for r in _snapshots(conn, rows) if _overdue(policy, r, now)]
        for request in expired:
            _expire(conn, policy, request, now)
        return [r.id for r in expired]

    return audit.transact(engine, work)


def _short(digest: str) -> str:
    return digest[:12] + "…"


def _ask(names: list[str]) -> str:
    return ", ".join(names) if names else "nobody (add a user with the role to the policy)"


def _eligible(policy: Policy, request: ApprovalRequest) -> list[str]:
    approvers = policy.approvers_for_gate(request.gate, request.tier)
    return [n for n in approvers if n != request.requested_by]


def _of_tier(request: ApprovalRequest) -> str:
    return "" if request.tier is None else f" of a {request.tier}-tier request"


def _audit_denied(
    engine: sa.Engine,
    actor: str | None,
    target: str,
    action: str,
    reason: str,
    correlation_id: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    payload = {"action": action, "reason": reason, **(details or {})}
    audit.append_audit(
        engine, audit.ACCESS_DENIED, actor or "<anonymous>", target, payload, correlation_id
    )


def _current_tier(conn: sa.Connection, model_name: str) -> tuple[bool, str | None]:
    """(known, tier): the model's tier as last applied — the newest tier change in the audit
    log, else the tier of its newest request; known is False for a model never requested."""
    a = audit_log.c
    change = conn.execute(
        sa.select(a.details)
        .where(a.event == RISK_TIER_CHANGED, a.target == f"model/{model_name}")
        .order_by(a.seq.desc())
        .limit(1)
    ).first()
    if change is not None:
        return True, json.loads(change.details).get("to")
    t = approval_requests.c
    newest = conn.execute(
        sa.select(approval_requests)
        .where(t.model_name == model_name)
        .order_by(t.id.desc())
        .limit(1)
    ).first()
    if newest is None:
        return False, None
    return True, _snapshot(newest).tier


def _apply_tier(
    conn: sa.Connection,
    experiment: str,
    model_name: str,
    tier: str | None,
    actor: str,
    correlation_id: str | None,
    now: datetime,
) -> list[int]:
    """In the caller's transaction: if the model's tier changed, audit the change and
    supersede its pending requests filed under another tier (their chain no longer applies).
    Returns the ids superseded."""
    known, previous = _current_tier(conn, model_name)
    t = approval_requests.c
    rows = conn.execute(
        sa.select(approval_requests)
        .where(t.model_name == model_name, t.status == PENDING)
        .with_for_update()
    ).all()
    stale = [r for r in _snapshots(conn, rows) if r.tier != tier]
    if (not known or previous == tier) and not stale:
        return []
    reason = f"risk tier changed from {previous or 'none'} to {tier or 'none'}"
    for request in stale:
        conn.execute(
            sa.update(approval_requests)
            .where(t.id == request.id, t.status == PENDING)
            .values(status=SUPERSEDED, decided_at=now, comment=f"superseded: {reason}")
        )
        audit.append_audit(
            conn,
            audit.APPROVAL_SUPERSEDED,
            actor,
            request.target,
            {
                "reason": reason,
                "from_tier": request.tier,
                "to_tier": tier,
                "gate": request.gate,
                "model_name": request.model_name,
                "model_version": request.model_version,
                "model_digest": request.model_digest,
                "approvals_so_far": request.approvers(),
            },
            correlation_id or request.correlation_id,
        )
    if previous != tier:
        audit.append_audit(
            conn,
            RISK_TIER_CHANGED,
            actor,
            f"model/{model_name}",
            {
                "experiment": experiment,
                "model_name": model_name,
                "from": previous,
                "to": tier,
                "superseded": [r.id for r in stale],
            },
            correlation_id,
        )
    return [r.id for r in stale]


def apply_tier(
    engine: sa.Engine,
    experiment: str,
    model_name: str,
    tier: str | None,
    actor: str,
    correlation_id: str | None = None,
) -> list[int]:
    """Record `tier` as the model's risk tier: a change is audited (`risk_tier_changed`) and
    supersedes the model's pending requests of another tier. Returns the ids superseded."""
    return audit.transact(
        engine,
        lambda conn: _apply_tier(
            conn, experiment, model_name, tier, actor, correlation_id, datetime.now(UTC)
        ),
    )


def request_approval(
    engine: sa.Engine,
    policy: Policy,
    experiment: str,
    gate: str,
    model_name: str,
    model_version: str | int,
    model_digest: str,
    requested_by: str,
    correlation_id: str | None = None,
    details: dict[str, Any] | None = None,
    tier: str | None = None,
) -> ApprovalRequest:
    """Open an approval request, or return the open/approved one for this exact target.

    Idempotent: a pending or approved request for the same gate, model, version, digest and
    risk tier is returned as is (no new row, no audit), unless the approval is due for
    revalidation. Older pending requests for the same gate and model but another target are
    superseded, and so are the model's pending requests of another tier (a tier change, which
    is audited); none can be decided afterwards.
    """
    policy.gate(gate, tier)  # unknown gate or tier -> GovernanceError listing the known ones
    version = str(model_version)
    digest = normalize_digest(model_digest)
    target_text = f"model/{model_name}/{version}@{gate}"
    try:
        policy.user(requested_by)
    except PermissionDenied as exc:
        _audit_denied(
            engine, requested_by, target_text, "request_approval", str(exc), correlation_id
        )
        raise
    correlation_id = correlation_id or uuid.uuid4().hex
    # The tier comes only from `tier`: a caller's details can never choose a lighter chain.
    details = {k: v for k, v in (details or {}).items() if k != TIER_KEY} or None
    if tier is not None:
        details = {**(details or {}), TIER_KEY: tier}
    t = approval_requests.c

    def work(conn: sa.Connection) -> ApprovalRequest:
        now = datetime.now(UTC)
        # An overdue pending request must neither be handed back nor block the new one.
        open_rows = conn.execute(
            sa.select(approval_requests)
            .where(t.gate == gate, t.model_name == model_name, t.status == PENDING)
            .with_for_update()
        ).all()
        for request in _snapshots(conn, open_rows):
            if _overdue(policy, request, now):
                _expire(conn, policy, request, now)
        _apply_tier(conn, experiment, model_name, tier, requested_by, correlation_id, now)
        same_target = conn.execute(
            sa.select(approval_requests)
            .where(
                t.gate == gate,
                t.model_name == model_name,
                t.model_version == version,
                t.model_digest == digest,
                t.status.in_((PENDING, APPROVED)),
            )
            .order_by(t.id.desc())
            .with_for_update()
        ).all()
        for request in _snapshots(conn, same_target):
            # An approval of another tier, or one due for revalidation, is history: file anew.
            if request.tier == tier and not _due(policy, request, now):
                return request
        # Supersede before inserting: the one-pending-per-gate-and-model index would otherwise
        # reject the new row.
        stale = conn.execute(
            sa.select(t.id, t.model_version, t.model_digest)
            .where(t.gate == gate, t.model_name == model_name, t.status == PENDING)
            .with_for_update()
        ).all()
        if stale:
            conn.execute(
                sa.update(approval_requests)
                .where(t.id.in_([s.id for s in stale]))
                .values(status=SUPERSEDED, decided_at=now)
            )
        new_id = conn.execute(
            sa.insert(approval_requests).values(
                experiment=experiment,
                gate=gate,
                model_name=model_name,
                model_version=version,
                model_digest=digest,
                status=PENDING,
                requested_by=requested_by,
                requested_at=now,
                correlation_id=correlation_id,
                details=details,
            )
        ).inserted_primary_key[0]
        audit.append_audit(
            conn,
            audit.APPROVAL_REQUESTED,
            requested_by,
            f"approval_request/{new_id}",
            {
                "experiment": experiment,
                "gate": gate,
                "model_name": model_name,
                "model_version": version,
                "model_digest": digest,
                "details": details or {},
            },
            correlation_id,
        )
        for old in stale:
            conn.execute(
                sa.update(approval_requests)
                .where(t.id == old.id)
                .values(comment=f"superseded by request #{new_id}")
            )
            audit.append_audit(
                conn,
                audit.APPROVAL_SUPERSEDED,
                requested_by,
                f"approval_request/{old.id}",
                {
                    "superseded_by": new_id,
                    "gate": gate,
                    "model_name": model_name,
                    "model_version": old.model_version,
                    "model_digest": old.model_digest,
                },
                correlation_id,
            )
        return _get(conn, new_id)

    return audit.transact(engine, work)


def _get(conn: sa.Connection, request_id: int, *, lock: bool = False) -> ApprovalRequest:
    query = sa.select(approval_requests).where(approval_requests.c.id == request_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(
            f"approval request #{request_id} does not exist; list requests to find its id"
        )
    return _snapshots(conn, [row])[0]


def _quorum_role(
    policy: Policy, request: ApprovalRequest, actor: str
) -> tuple[str | None, list[str]]:
    """(the quorum role `actor` approves in, or None; the roles still outstanding before)."""
    covered = request.approvers()
    outstanding = [
        r for r in policy.quorum_for_gate(request.gate, request.tier) if r not in covered
    ]
    held = policy.user(actor).roles
    role = next((r for r in outstanding if r in held), None)
    return role, outstanding


def _who_holds(policy: Policy, roles: list[str], requester: str) -> str:
    names = [u.name for u in policy.users if u.has_any_role(roles) and u.name != requester]
    return _ask(names)


def _refusal(
    policy: Policy,
    request: ApprovalRequest,
    decision: str,
    actor: str | None,
    comment: str | None,
    current_digest: str | None,
    expected_version: str | None = None,
) -> GovernanceError | None:
    """Why `actor` may not take `decision` on `request`, or None if they may."""
    gate = request.gate
    try:
        policy.user(actor)
    except PermissionDenied as exc:
        return exc
    if gate_of(policy, request) is None:
        return GovernanceError(
            f"approval request #{request.id} was filed for the {gate} gate under risk tier "
            f"'{request.tier}', which the current policy does not define; it cannot be "
            "decided — submit a new request"
        )
    eligible = _eligible(policy, request)
    if request.status != PENDING:
        by = f" by {request.decided_by}" if request.decided_by else ""
        return GovernanceError(
            f"approval request #{request.id} is already {request.status}{by}; a decided, expired "
            f"or superseded request can never be decided again or reused — submit a new request "
            f"for model '{request.model_name}' version {request.model_version}"
        )
    if actor == request.requested_by:
        verb = "approve" if decision == "approve" else "decide"
        return PermissionDenied(
            f"the requester cannot {verb} their own request #{request.id} (maker-checker); "
            f"ask one of: {_ask(eligible)}"
        )
    if not policy.may_approve(actor, gate, request.tier):
        roles = " or ".join(policy.roles_for_gate(gate, request.tier))
        who = " or ".join(eligible) or "nobody (add a user with the role to the policy)"
        held = ", ".join(policy.user(actor).roles)
        return PermissionDenied(
            f"{actor} ({held}) does not hold a role allowed for the {gate} gate"
            f"{_of_tier(request)} ({roles}); {who} may approve the {gate} gate{_of_tier(request)}"
        )
    earlier = [d for d in request.decisions if d.actor == actor]
    if earlier:
        return GovernanceError(
            f"{actor} already decided approval request #{request.id} ({earlier[0].decision} as "
            f"{earlier[0].role}); nobody decides a request twice — the quorum needs another person"
        )
    if decision == "approve" and policy.quorum_for_gate(gate, request.tier):
        role, outstanding = _quorum_role(policy, request, actor)
        if role is None:
            done = ", ".join(f"{r} by {a}" for r, a in request.approvers().items())
            return PermissionDenied(
                f"the {gate} gate needs one approval per role ({', '.join(outstanding)} still "
                f"missing; already approved: {done}) and {actor} holds none of the missing "
                f"roles; ask {_who_holds(policy, outstanding, request.requested_by)}"
            )
    if decision != "approve" and not (comment or "").strip():
        return GovernanceError(
            f"a {decision.replace('_', ' ')} decision needs a comment explaining why; "
            "pass a non-empty comment"
        )
    if expected_version is not None and str(expected_version) != request.model_version:
        return GovernanceError(
            f"approval request #{request.id} is for model '{request.model_name}' version "
            f"{request.model_version}, not version {expected_version}; a decision covers exactly "
            "the version and digest of its request — decide the request for that version"
        )
    if current_digest is not None and normalize_digest(current_digest) != request.model_digest:
        return GovernanceError(
            f"approval request #{request.id} is for digest {_short(request.model_digest)} but "
            f"the model artifact now has digest {_short(normalize_digest(current_digest))}; "
            "the artifact changed since the request — submit a new request for it"
        )
    return None


def decision_refusal(
    policy: Policy, request: ApprovalRequest, actor: str | None, decision: str = "approve"
) -> str | None:
    """Why `actor` may not take `decision` on `request` now, or None if they may.

    Reads only (no audit): the checker's page uses it to list what a caller may decide and to
    show decision forms only to them. `decide` re-checks everything when the decision comes.
    """
    refusal = _refusal(policy, request, decision, actor, "(comment given with the decision)", None)
    return None if refusal is None else str(refusal)


def decide(
    engine: sa.Engine,
    policy: Policy,
    request_id: int,
    decision: Decision,
    actor: str,
    comment: str | None = None,
    current_digest: str | None = None,
    correlation_id: str | None = None,
    expected_version: str | int | None = None,
) -> ApprovalRequest:
    """Approve, reject or request changes on a pending request, as `actor`.

    `current_digest` / `expected_version`: what the checker reviewed; a mismatch is refused.
    On a quorum gate an approval is recorded and the request stays pending until every quorum
    role has approved; a reject or request-changes by any allowed approver is final at once.
    Refusals raise PermissionDenied/GovernanceError with the fix and are audited as
    `access_denied` (committed even though the decision is not); a request found overdue is
    marked `expired` first. The decision's audit row carries the request's correlation id
    unless another one is given.
    """
    decision_key = str(decision).strip().lower().replace("-", "_")
    if decision_key not in DECISIONS:
        raise GovernanceError(f"unknown decision '{decision}'; use one of: {', '.join(DECISIONS)}")
    final_status, event = DECISIONS[decision_key]
    version = None if expected_version is None else str(expected_version)

    def work(conn: sa.Connection) -> ApprovalRequest | GovernanceError:
        now = datetime.now(UTC)
        request = _get(conn, request_id, lock=True)
        if _overdue(policy, request, now):
            _expire(conn, policy, request, now)  # committed: the refusal below is not a rollback
            return GovernanceError(
                f"approval request #{request.id} expired at "
                f"{expires_at(policy, request):%Y-%m-%d %H:%M} UTC without a decision and can "
                "never be decided; submit a new request"
            )
        refusal = _refusal(policy, request, decision_key, actor, comment, current_digest, version)
        if refusal is not None:
            return refusal  # nothing written; the refusal is audited after this rolls back
        quorum = policy.quorum_for_gate(request.gate, request.tier)
        status, audit_event, outstanding = final_status, event, []
        if decision_key == "approve" and quorum:
            role, missing = _quorum_role(policy, request, actor)
            outstanding = [r for r in missing if r != role]
            if outstanding:
                status, audit_event = PENDING, audit.APPROVAL_PARTIALLY_APPROVED
        else:
            held = policy.user(actor).roles
            role = next(r for r in policy.roles_for_gate(request.gate, request.tier) if r in held)
        entry = audit.append_audit(
            conn,
            audit_event,
            actor,
            request.target,
            {
                "decision": decision_key,
                "role": role,
                "comment": comment,
                "gate": request.gate,
                "model_name": request.model_name,
                "model_version": request.model_version,
                "model_digest": request.model_digest,
                "requested_by": request.requested_by,
                **({"tier": request.tier} if request.tier is not None else {}),
                **({"quorum": quorum, "outstanding": outstanding} if quorum else {}),
            },
            correlation_id or request.correlation_id,
        )
        conn.execute(
            sa.insert(approval_decisions).values(
                request_id=request.id,
                actor=actor,
                role=role,
                decision=decision_key,
                comment=(comment or "").strip() or None,
                decided_at=now,
                audit_seq=entry["seq"],
            )
        )
        if status != PENDING:
            conn.execute(
                sa.update(approval_requests)
                .where(approval_requests.c.id == request.id)
                .values(
                    status=status,
                    decided_by=actor,
                    decided_at=now,
                    comment=(comment or "").strip() or None,
                    decision_seq=entry["seq"],
                )
            )
        return _get(conn, request.id)

    outcome = audit.transact(engine, work)
    if isinstance(outcome, GovernanceError):
        _audit_denied(
            engine,
            actor,
            f"approval_request/{request_id}",
            decision_key,
            str(outcome),
            correlation_id,
        )
        raise outcome
    return outcome


def get_request(engine: sa.Engine, request_id: int) -> ApprovalRequest:
    """One request by id; NotFound if there is none."""
    with engine.connect() as conn:
        return _get(conn, request_id)


def list_requests(
    engine: sa.Engine,
    experiment: str | None = None,
    status: str | None = None,
    gate: str | None = None,
) -> list[ApprovalRequest]:
    """Requests matching the filters, oldest first."""
    if status is not None and status not in STATUSES:
        raise GovernanceError(f"unknown status '{status}'; use one of: {', '.join(STATUSES)}")
    t = approval_requests.c
    query = sa.select(approval_requests).order_by(t.id)
    if experiment is not None:
        query = query.where(t.experiment == experiment)
    if status is not None:
        query = query.where(t.status == status)
    if gate is not None:
        query = query.where(t.gate == gate)
    with engine.connect() as conn:
        return _snapshots(conn, conn.execute(query).all())


def latest_request(
    engine: sa.Engine,
    experiment: str,
    gate: str,
    model_name: str,
    model_version: str | int,
) -> ApprovalRequest | None:
    """The newest request for this experiment, gate and model version, whatever its status."""
    t = approval_requests.c
    query = (
        sa.select(approval_requests)
        .where(
            t.experiment == experiment,
            t.gate == gate,
            t.model_name == model_name,
            t.model_version == str(model_version),
        )
        .order_by(t.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
        return None if row is None else _snapshots(conn, [row])[0]


def decisions_after(engine: sa.Engine, cursor_id: int) -> list[ApprovalRequest]:
    """Requests decided after `cursor_id`, in decision order.

    The cursor is a request's `decision_seq` (the audit seq of its decision row; 0 to start).
    Decisions are numbered in commit order, so a sensor that stores the last `decision_seq` it
    saw and passes it back never misses or repeats a decision. Superseded requests were never
    decided and are not returned.
    """
    t = approval_requests.c
    query = (
        sa.select(approval_requests)
        .where(t.decision_seq.is_not(None), t.decision_seq > int(cursor_id))
        .order_by(t.decision_seq)
    )
    with engine.connect() as conn:
        return _snapshots(conn, conn.execute(query).all())


def _why_not_quorum(policy: Policy, request: ApprovalRequest) -> str | None:
    """For a quorum gate: does every required role have a distinct, still-entitled approver?"""
    quorum = policy.quorum_for_gate(request.gate, request.tier)
    approvals = [d for d in request.decisions if d.decision == "approve"]
    if not quorum:
        return None
    actors = [d.actor for d in approvals]
    if len(set(actors)) != len(actors) or request.requested_by in actors:
        return (
            f"request #{request.id} has approvals that are not from distinct people other than "
            "the requester; submit a new request"
        )
    by_role = {d.role: d.actor for d in approvals}
    for role in quorum:
        approver = by_role.get(role)
        if approver is None:
            return (
                f"request #{request.id} lacks the {role} approval the {request.gate} gate's "
                f"quorum ({', '.join(quorum)}) requires; ask "
                f"{_who_holds(policy, [role], request.requested_by)} to approve a new request"
            )
        if not (policy.has_user(approver) and role in policy.user(approver).roles):
            return (
                f"request #{request.id} was approved as {role} by {approver}, who no longer "
                f"holds that role in the current policy; ask "
                f"{_who_holds(policy, [role], request.requested_by)} to approve a new request"
            )
    return None


def _why_not(policy: Policy, request: ApprovalRequest, digest: str) -> str | None:
    """Why `request` does not approve `digest` under the current policy, or None if it does."""
    gate = gate_of(policy, request)
    if gate is None:
        return (
            f"request #{request.id} was filed under risk tier '{request.tier}', which the "
            "current policy does not define; submit a new request"
        )
    eligible = _eligible(policy, request)
    now = datetime.now(UTC)
    if _overdue(policy, request, now) or request.status == EXPIRED:
        allows = (
            f"allows {gate.expires_after_hours:g} h" if gate.expires_after_hours else "expired it"
        )
        return (
            f"request #{request.id} expired without a decision (the {request.gate} gate "
            f"{allows}); submit a new request"
        )
    if request.status == PENDING:
        wrong = (
            f" (and it is for digest {_short(request.model_digest)}, not {_short(digest)})"
            if request.model_digest != digest
            else ""
        )
        missing = [
            r
            for r in policy.quorum_for_gate(request.gate, request.tier)
            if r not in request.approvers()
        ]
        if missing:
            ask = _who_holds(policy, missing, request.requested_by)
            return (
                f"request #{request.id} is pending{wrong}: the quorum still needs "
                f"{', '.join(missing)} — ask {ask}"
            )
        return f"request #{request.id} is pending{wrong}: ask {_ask(eligible)} to decide it"
    if request.status in (REJECTED, CHANGES_REQUESTED):
        said = f": {request.comment}" if request.comment else ""
        verb = "was rejected" if request.status == REJECTED else "got changes requested"
        return (
            f"request #{request.id} {verb} by {request.decided_by}{said}; "
            "address it and submit a new request"
        )
    if request.status == SUPERSEDED:
        how = request.comment or "superseded"
        return (
            f"request #{request.id} was {how} and can never be approved; "
            "approve the newer request or submit a new one"
        )
    if request.model_digest != digest:
        return (
            f"request #{request.id} was approved for digest {_short(request.model_digest)} but "
            f"the model's digest is {_short(digest)}; the artifact changed — request approval "
            "for the current artifact"
        )
    if request.decided_by == request.requested_by:
        return (
            f"request #{request.id} was approved by its own requester {request.decided_by}, "
            f"which maker-checker forbids; ask {_ask(eligible)} to approve a new request"
        )
    if not policy.may_approve(request.decided_by, request.gate, request.tier):
        roles = " or ".join(policy.roles_for_gate(request.gate, request.tier))
        return (
            f"request #{request.id} was approved by {request.decided_by}, who no longer holds a "
            f"role allowed for the {request.gate} gate ({roles}) in the current policy; ask "
            f"{_ask(eligible)} to approve a new request"
        )
    due = revalidation_due(policy, request)
    if due is not None and due <= now:
        return (
            f"request #{request.id} was approved on {request.decided_at:%Y-%m-%d} and is due for "
            f"revalidation since {due:%Y-%m-%d} (the {request.gate} gate{_of_tier(request)} "
            f"revalidates every {gate.revalidate_after_days:g} days); revalidate the model: "
            "submit a new request and have it decided again"
        )
    return _why_not_quorum(policy, request)


def verify_approval(
    engine: sa.Engine,
    policy: Policy,
    gate: str,
    model_name: str,
    model_version: str | int,
    model_digest: str,
    tier: str | None = None,
) -> ApprovalVerdict:
    """Is this exact model version and digest approved for `gate` under the current policy?

    ok only for an approved request with the same version and digest, decided by someone other
    than the requester who still holds a role allowed for the gate in the request's tier chain,
    and not due for revalidation. With `tier` (the model's current risk tier) a request filed
    under another tier does not count. Otherwise the reason names what is missing and who can
    fix it.
    """
    policy.gate(gate, tier)
    version = str(model_version)
    digest = normalize_digest(model_digest)
    t = approval_requests.c
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(approval_requests)
            .where(t.gate == gate, t.model_name == model_name, t.model_version == version)
            .order_by(t.id.desc())
        ).all()
        requests = _snapshots(conn, rows)
    if not requests:
        return ApprovalVerdict(
            False,
            f"no approval request for model '{model_name}' version {version} at the {gate} "
            "gate; request approval first",
            None,
        )
    # An approval for exactly this artifact wins over anything requested after it.
    exact = [r for r in requests if r.status == APPROVED and r.model_digest == digest]
    if tier is not None:
        other = [r for r in exact if r.tier != tier]
        exact = [r for r in exact if r.tier == tier]
        if not exact and other:
            was = other[0]
            return ApprovalVerdict(
                False,
                f"request #{was.id} was approved under risk tier {was.tier or 'none'}, but the "
                f"model is now tier {tier}, whose {gate} chain "
                f"({', '.join(policy.roles_for_gate(gate, tier))}) it has not passed; submit a "
                "new request",
                was,
            )
    for request in exact:
        if _why_not(policy, request, digest) is None:
            return ApprovalVerdict(
                True,
                f"request #{request.id} approved by {request.decided_by} for model "
                f"'{model_name}' version {version} (digest {_short(digest)})",
                request,
            )
    request = exact[0] if exact else requests[0]
    return ApprovalVerdict(False, _why_not(policy, request, digest) or "not approved", request)
