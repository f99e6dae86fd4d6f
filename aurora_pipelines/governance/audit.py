"""The append-only, hash-chained audit log.

Each row stores `prev_hash` (the previous row's hash; 64 zeros for the first) and `hash` =
sha256 over a canonical JSON array of (seq, ts, event, actor, target, details, correlation_id,
prev_hash). Editing a row breaks its hash; deleting or reordering rows breaks the seq sequence
or the prev_hash links. `verify_chain` walks the chain and names the first bad seq.

A chain alone cannot show that its newest rows were cut off, nor that someone rewrote every
hash after an edit: each committed append therefore also records the head (seq, hash) outside
the database (governance/head_anchor.py), and `verify_chain` compares with it.

Rows appended inside `authenticated_as(...)` carry how the actor was authenticated
(`auth=token` or `auth=trust_env`) in their details.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from aurora_pipelines.errors import GovernanceError
from aurora_pipelines.governance import head_anchor
from aurora_pipelines.governance.head_anchor import HeadAnchor
from aurora_pipelines.governance.models import audit_log

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

GENESIS_HASH = "0" * 64
WRITE_ATTEMPTS = 8

# Events the governance engine writes; other modules add their own (run, promotion, rollback...).
APPROVAL_REQUESTED = "approval_requested"
APPROVAL_SUPERSEDED = "approval_superseded"
APPROVAL_APPROVED = "approval_approved"
APPROVAL_REJECTED = "approval_rejected"
APPROVAL_CHANGES_REQUESTED = "approval_changes_requested"
APPROVAL_PARTIALLY_APPROVED = "approval_partially_approved"
APPROVAL_EXPIRED = "approval_expired"
ACCESS_DENIED = "access_denied"
TOKEN_CREATED = "token_created"
TOKEN_REVOKED = "token_revoked"
# Serializes audit appends on PostgreSQL (any constant; one per database).
PG_AUDIT_LOCK_KEY = 0x4155524F5241  # "AURORA"

T = TypeVar("T")

# Heads (seq, hash) appended in the current transaction, kept on the connection until commit.
_PENDING_HEADS = "aurora_audit_heads"
# How the acting caller was authenticated; merged into the details of every row appended.
_AUTH: ContextVar[dict[str, Any] | None] = ContextVar("aurora_audit_auth", default=None)


@dataclass(frozen=True)
class ChainVerification:
    ok: bool
    rows: int
    first_bad_seq: int | None
    reason: str
    head_hash: str | None = None
    # Where the head outside the database is kept, and what it said (None: nothing recorded).
    anchor: str | None = None
    anchored_seq: int | None = None


@contextlib.contextmanager
def authenticated_as(auth: dict[str, Any]) -> Iterator[None]:
    """Within this block, every audit row appended records `auth` (e.g. {"auth": "token",
    "token_id": 7}) in its details: how its actor was established."""
    reset = _AUTH.set(dict(auth))
    try:
        yield
    finally:
        _AUTH.reset(reset)


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, compact) so a hash never depends on dict order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(
    seq: int,
    ts: str,
    event: str,
    actor: str,
    target: str,
    details: str,
    correlation_id: str | None,
    prev_hash: str,
) -> str:
    """The hash a row must carry, given its content and its predecessor's hash."""
    payload = canonical_json([seq, ts, event, actor, target, details, correlation_id, prev_hash])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _is_write_conflict(exc: sa_exc.DBAPIError) -> bool:
    if isinstance(exc, sa_exc.IntegrityError):
        return True  # a concurrent writer took the same seq/prev_hash or pending slot
    text = str(exc.orig).lower()
    return "database is locked" in text or "deadlock" in text or "could not serialize" in text


def transact(engine: sa.Engine, work: Callable[[sa.Connection], T]) -> T:
    """Run `work(conn)` in one write transaction, rerunning it when a concurrent writer won.

    `work` must be safe to rerun: on conflict everything it wrote was rolled back.
    """
    for attempt in range(WRITE_ATTEMPTS):
        try:
            with engine.begin() as conn:
                conn.info.pop(_PENDING_HEADS, None)
                try:
                    result = work(conn)
                finally:
                    heads = conn.info.pop(_PENDING_HEADS, [])
            # Committed: only now may the head outside the database move forward.
            head_anchor.record_committed(engine, heads)
            return result
        except (sa_exc.IntegrityError, sa_exc.OperationalError) as exc:
            if not _is_write_conflict(exc):
                raise
            if attempt == WRITE_ATTEMPTS - 1:
                raise GovernanceError(
                    f"governance write kept conflicting with concurrent writers "
                    f"({WRITE_ATTEMPTS} attempts): {exc.orig}; retry the command"
                ) from exc
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def _append(
    conn: sa.Connection,
    event: str,
    actor: str,
    target: str,
    details: dict[str, Any] | None,
    correlation_id: str | None,
) -> dict[str, Any]:
    # On PostgreSQL a transaction-scoped advisory lock queues appenders (FOR UPDATE on the head
    # row alone would let every waiter read the same old head and fail together); on SQLite,
    # BEGIN IMMEDIATE already serializes writers. Should two writers still read the same head,
    # UNIQUE(seq) and UNIQUE(prev_hash) reject the second and `transact` reruns it.
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(PG_AUDIT_LOCK_KEY)))
    head = conn.execute(
        sa.select(audit_log.c.seq, audit_log.c.hash)
        .order_by(audit_log.c.seq.desc())
        .limit(1)
        .with_for_update()
    ).first()
    seq = 1 if head is None else head.seq + 1
    prev_hash = GENESIS_HASH if head is None else head.hash
    row = {
        "seq": seq,
        "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
        "event": event,
        "actor": actor,
        "target": target,
        "details": canonical_json({**(_AUTH.get() or {}), **(details or {})}),
        "correlation_id": correlation_id,
        "prev_hash": prev_hash,
    }
    row["hash"] = row_hash(**row)
    result = conn.execute(sa.insert(audit_log).values(**row))
    conn.info.setdefault(_PENDING_HEADS, []).append((seq, row["hash"]))
    return {"id": result.inserted_primary_key[0], **row}


def append_audit(
    session_or_engine: sa.Engine | sa.Connection | Session,
    event: str,
    actor: str,
    target: str,
    details: dict[str, Any] | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """Append one audit row and return it (with its seq and hash).

    With an Engine the row is written in its own transaction (retried on a concurrent append);
    with a Connection or Session it joins the caller's transaction, so a state change and its
    audit row commit together — the caller then owns the retry, and runs it through `transact`,
    which records the new head outside the database once the transaction commits.
    """
    if not event or not actor or not target:
        raise GovernanceError("an audit row needs a non-empty event, actor and target")
    if isinstance(session_or_engine, sa.Engine):
        return transact(
            session_or_engine,
            lambda conn: _append(conn, event, actor, target, details, correlation_id),
        )
    return _append(_connection(session_or_engine), event, actor, target, details, correlation_id)


def _connection(conn_or_session: sa.Connection | Session) -> sa.Connection:
    """The connection a Session's transaction runs on, or the connection itself. Looked up in
    sys.modules: importing the ORM costs a CLI command more than its write, and an object can
    only be a Session once something has imported the ORM."""
    orm = sys.modules.get("sqlalchemy.orm")
    if orm is not None and isinstance(conn_or_session, orm.Session):
        return conn_or_session.connection()
    return conn_or_session


def _as_dict(row: sa.Row) -> dict[str, Any]:
    data = dict(row._mapping)
    data["details"] = json.loads(data["details"]) if data["details"] else {}
    return data


def parse_since(value: str | datetime) -> str:
    """An ISO date or datetime (naive = UTC) as the `ts` text it compares with."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise GovernanceError(
                f"'{value}' is not an ISO date or datetime; use e.g. 2026-11-01 or "
                "2026-11-01T09:30:00+00:00"
            ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def read_audit(
    engine: sa.Engine,
    limit: int | None = None,
    *,
    event: str | None = None,
    correlation_id: str | None = None,
    since: str | datetime | None = None,
) -> list[dict[str, Any]]:
    """Audit rows in chain order (oldest first); with `limit`, only the newest `limit` rows."""
    query = sa.select(audit_log)
    if event is not None:
        query = query.where(audit_log.c.event == event)
    if correlation_id is not None:
        query = query.where(audit_log.c.correlation_id == correlation_id)
    if since is not None:
        # Every ts is written as UTC ISO text of one width, so text order is time order.
        query = query.where(audit_log.c.ts >= parse_since(since))
    if limit is not None:
        query = query.order_by(audit_log.c.seq.desc()).limit(limit)
    with engine.connect() as conn:
        rows = [_as_dict(r) for r in conn.execute(query)]
    return sorted(rows, key=lambda r: r["seq"])


def audit_head(engine: sa.Engine) -> tuple[int, str] | None:
    """(seq, hash) of the newest row — worth recording elsewhere to detect a truncated tail."""
    with engine.connect() as conn:
        head = conn.execute(
            sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        ).first()
    return None if head is None else (head.seq, head.hash)


def verify_chain(engine: sa.Engine, anchor: HeadAnchor | None = None) -> ChainVerification:
    """Walk the chain from seq 1 and report the first row that was edited, deleted or moved;
    then check it against the head recorded outside the database (`anchor`, default: the
    anchors attached to `engine`), which shows truncated newest rows and a rewritten chain."""
    anchors = [anchor] if anchor is not None else head_anchor.anchors_for(engine)
    # Read before the walk: a head is recorded only after its row committed, so every head
    # read now names a row the walk will see.
    recorded = [(a, a.latest()) for a in anchors]
    recorded_hash = {head[0]: head[1] for _, head in recorded if head is not None}
    seen_hash: dict[int, str] = {}
    columns = [audit_log.c[name] for name in ("seq", "ts", "event", "actor", "target")]
    columns += [audit_log.c[name] for name in ("details", "correlation_id", "prev_hash", "hash")]
    expected_seq, prev_hash, rows = 1, GENESIS_HASH, 0
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=1000).execute(
            sa.select(*columns).order_by(audit_log.c.seq)
        )
        for row in result:
            if row.seq != expected_seq:
                return ChainVerification(
                    False,
                    rows,
                    expected_seq,
                    f"seq {expected_seq} is missing (next row has seq {row.seq}): "
                    "a row was deleted or renumbered",
                )
            if row.prev_hash != prev_hash:
                return ChainVerification(
                    False,
                    rows,
                    row.seq,
                    f"row seq {row.seq} does not link to row seq {row.seq - 1} (prev_hash "
                    "differs): rows were deleted, reordered or replaced",
                )
            content = {k: getattr(row, k) for k in row._fields if k != "hash"}
            if row_hash(**content) != row.hash:
                return ChainVerification(
                    False,
                    rows,
                    row.seq,
                    f"row seq {row.seq} was edited: its content no longer matches its hash",
                )
            if row.seq in recorded_hash:
                seen_hash[row.seq] = row.hash
            expected_seq, prev_hash, rows = expected_seq + 1, row.hash, rows + 1
    head = None if rows == 0 else prev_hash
    for where, latest in recorded:
        if latest is None:
            continue
        seq, anchored = latest
        if seq > rows:
            return ChainVerification(
                False,
                rows,
                rows + 1,
                f"the audit log ends at seq {rows}, but the head recorded outside the database "
                f"({where.describe()}) is seq {seq}: the newest {seq - rows} row(s) were deleted",
                head,
                where.describe(),
                seq,
            )
        if seen_hash.get(seq) != anchored:
            return ChainVerification(
                False,
                rows,
                seq,
                f"row seq {seq} is not the row recorded outside the database "
                f"({where.describe()}): the chain was rewritten from there on",
                head,
                where.describe(),
                seq,
            )
    anchored_at = next(((a.describe(), h[0]) for a, h in recorded if h is not None), None)
    if anchored_at is None:
        where = anchors[0].describe() if anchors else None
        return ChainVerification(True, rows, None, f"{rows} rows, chain intact", head, where)
    return ChainVerification(
        True,
        rows,
        None,
        f"{rows} rows, chain intact; head seq {anchored_at[1]} recorded in {anchored_at[0]} "
        "matches",
        head,
        anchored_at[0],
        anchored_at[1],
    )


EXPORT_COLUMNS = (
    "seq",
    "ts",
    "event",
    "actor",
    "target",
    "correlation_id",
    "details",
    "prev_hash",
    "hash",
)


def export_audit(rows: list[dict[str, Any]], fmt: str, chain: ChainVerification) -> str:
    """Rows as CSV (one per line, details as JSON) or as a JSON document with the chain check."""
    if fmt == "json":
        document = {
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "chain": {"ok": chain.ok, "rows": chain.rows, "reason": chain.reason},
            "chain_head_hash": chain.head_hash,
            "rows": [{k: row.get(k) for k in EXPORT_COLUMNS} for row in rows],
        }
        return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    **{k: row.get(k) for k in EXPORT_COLUMNS},
                    "details": canonical_json(row["details"]),
                }
            )
        return buffer.getvalue()
    raise GovernanceError(f"unknown export format '{fmt}'; use csv or json")
