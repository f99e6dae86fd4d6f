"""Read-only governance queries on a SQLite store with the standard library's sqlite3.

`aurora approvals list` and `aurora status` only read, and importing SQLAlchemy with the store's
tables costs them more than their queries. Each function here answers exactly as the
`GovernanceStore` method it mirrors, or returns None when it cannot (a database other than
SQLite, no database or table yet, a pending request the store might expire first); the caller
then asks the store, which creates, expires and audits as usual.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurora_pipelines.governance.snapshots import (
    PENDING,
    STATUSES,
    ApprovalRequest,
    DecisionRecord,
    expires_at,
)

if TYPE_CHECKING:
    from aurora_pipelines.governance.policy import Policy
    from aurora_pipelines.settings import Settings

SQLITE_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
BUSY_TIMEOUT_S = 30  # as the store's engine: wait for a writer rather than fail
# Columns named, not `*`: a database from before a column existed fails with "no such column",
# and the store adds it (models.add_missing_columns).
REQUEST_COLUMNS = ", ".join(f.name for f in fields(ApprovalRequest) if f.name != "decisions")
DECISION_COLUMNS = "request_id, " + ", ".join(f.name for f in fields(DecisionRecord))


def sqlite_file(url: str) -> Path | None:
    """The database file of a plain SQLite URL (`sqlite:///path`), or None for any other URL
    (another database, in-memory, query options: those go through SQLAlchemy)."""
    prefix = next((p for p in SQLITE_PREFIXES if url.startswith(p)), None)
    if prefix is None or "?" in url:
        return None
    database = url[len(prefix) :]
    if database in ("", ":memory:"):
        return None
    return Path(database).expanduser()


@contextlib.contextmanager
def _read_only(url: str) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection to the store's existing SQLite file, or None."""
    path = sqlite_file(url)
    if path is None or not path.is_file():
        yield None
        return
    # A file: URI (percent-encoded by pathlib) opens it read-only; urllib.request would cost
    # more to import than the query takes.
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


def _time(value: str | None) -> datetime | None:
    # SQLAlchemy stores SQLite datetimes as naive ISO text; everything we store is UTC.
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _expiring_gates(policy: Policy) -> list[str]:
    """Gates whose pending requests can expire (as `approvals.expire_overdue` selects them)."""
    chains = [policy.gates, *(tier.gates for tier in policy.tiers.values())]
    return sorted({g for c in chains for g, spec in c.items() if spec.expires_after_hours})


def list_requests(
    url: str,
    policy: Policy,
    experiment: str | None = None,
    status: str | None = None,
    gate: str | None = None,
) -> list[ApprovalRequest] | None:
    """`GovernanceStore.list_requests` on a SQLite store, or None (ask the store)."""
    if status is not None and status not in STATUSES:
        return None  # the store's error names the valid statuses
    with _read_only(url) as conn:
        if conn is None:
            return None
        try:
            return _list_requests(conn, policy, _expiring_gates(policy), experiment, status, gate)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc) or "no such column" in str(exc):
                return None  # an empty or older database: the store creates or migrates it
            raise


def _list_requests(
    conn: sqlite3.Connection,
    policy: Policy,
    expiring: list[str],
    experiment: str | None,
    status: str | None,
    gate: str | None,
) -> list[ApprovalRequest] | None:
    if expiring:
        marks = ", ".join("?" * len(expiring))
        sql = f"SELECT {REQUEST_COLUMNS} FROM approval_requests WHERE status = ? AND gate IN "
        sql += f"({marks})"
        now = datetime.now(UTC)
        for row in conn.execute(sql, [PENDING, *expiring]).fetchall():
            deadline = expires_at(policy, _request(row, ()))
            if deadline is not None and deadline <= now:
                return None  # the store expires overdue ones (with their audit rows) first
    filters = {"experiment": experiment, "status": status, "gate": gate}
    where = [f"{column} = ?" for column, value in filters.items() if value is not None]
    params = [value for value in filters.values() if value is not None]
    sql = f"SELECT {REQUEST_COLUMNS} FROM approval_requests"
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = conn.execute(sql + " ORDER BY id", params).fetchall()
    decisions = _decisions(conn, [r["id"] for r in rows])
    return [_request(r, decisions.get(r["id"], ())) for r in rows]


def _decisions(
    conn: sqlite3.Connection, request_ids: list[int]
) -> dict[int, tuple[DecisionRecord, ...]]:
    if not request_ids:
        return {}
    marks = ", ".join("?" * len(request_ids))
    rows = conn.execute(
        f"SELECT {DECISION_COLUMNS} FROM approval_decisions WHERE request_id IN ({marks}) "
        "ORDER BY request_id, audit_seq",
        request_ids,
    ).fetchall()
    out: dict[int, list[DecisionRecord]] = {}
    for r in rows:
        out.setdefault(r["request_id"], []).append(
            DecisionRecord(
                actor=r["actor"],
                role=r["role"],
                decision=r["decision"],
                comment=r["comment"],
                decided_at=_time(r["decided_at"]),
                audit_seq=r["audit_seq"],
            )
        )
    return {k: tuple(v) for k, v in out.items()}


def _request(row: sqlite3.Row, decisions: tuple[DecisionRecord, ...]) -> ApprovalRequest:
    data: dict[str, Any] = dict(row)
    data["requested_at"] = _time(data["requested_at"])
    data["decided_at"] = _time(data["decided_at"])
    data["details"] = None if data["details"] is None else json.loads(data["details"])
    return ApprovalRequest(**data, decisions=decisions)


def read_requests(
    settings: Settings, experiment: str | None = None, status: str | None = None
) -> list[ApprovalRequest]:
    """The approval requests `GovernanceStore.list_requests` lists for these settings: read
    here when the store is SQLite, else (or when the store must write first) by the store."""
    from aurora_pipelines.governance.policy import load_policy

    policy = load_policy(settings.policy)
    url = settings.governance_db_url
    requests = list_requests(url, policy, experiment=experiment, status=status)
    if requests is not None:
        return requests
    from aurora_pipelines.governance.store import GovernanceStore

    store = GovernanceStore(url, policy, settings.audit_head)
    return store.list_requests(experiment=experiment, status=status)


def latest_health(url: str, experiment: str) -> tuple[bool, dict[str, Any] | None]:
    """(answered, `workspace.health.latest_health`) on a SQLite store; answered is False when
    the store must answer (not SQLite, no database or table yet)."""
    with _read_only(url) as conn:
        if conn is None:
            return False, None
        try:
            row = conn.execute(
                "SELECT score, breakdown, computed_at FROM experiment_health "
                "WHERE experiment = ? ORDER BY id DESC LIMIT 1",
                [experiment],
            ).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return True, None  # no health run yet (the store would only create the table)
            if "no such column" in str(exc):
                return False, None
            raise
    if row is None:
        return True, None
    # str() of the naive datetime SQLAlchemy hands back, as the store's reader prints it.
    computed_at = str(datetime.fromisoformat(row["computed_at"]))
    return True, {
        "score": row["score"],
        "computed_at": computed_at,
        "breakdown": json.loads(row["breakdown"]),
    }
