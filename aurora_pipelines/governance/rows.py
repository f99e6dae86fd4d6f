"""Rows of the governance tables: read back with UTC times, inserted with their audit row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from aurora_pipelines.governance import audit


def utc(value: datetime | None) -> datetime | None:
    """`value` as an aware UTC datetime (None stays None)."""
    # SQLite hands back naive datetimes; everything we store is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def row_data(row: sa.Row, *time_columns: str) -> dict[str, Any]:
    """The row as a dict, its `time_columns` made aware (UTC)."""
    data = dict(row._mapping)
    for column in time_columns:
        data[column] = utc(data[column])
    return data


def insert_audited(
    conn: sa.Connection,
    table: sa.Table,
    values: dict[str, Any],
    *,
    event: str,
    actor_column: str,
    time_column: str,
    target: str,
) -> sa.Row:
    """Insert `values` into `table` with its audit row, in `conn`'s transaction; the stored row.

    The audit row comes first so the new row can carry its `audit_seq`; its details are the
    values except the actor and the correlation id, which the audit row holds in its own columns.
    `time_column` is stamped now (UTC).
    """
    entry = audit.append_audit(
        conn,
        event,
        values[actor_column],
        target,
        {k: v for k, v in values.items() if k not in (actor_column, "correlation_id")},
        values["correlation_id"],
    )
    new_id = conn.execute(
        sa.insert(table).values(
            **values, **{time_column: datetime.now(UTC)}, audit_seq=entry["seq"]
        )
    ).inserted_primary_key[0]
    return conn.execute(sa.select(table).where(table.c.id == new_id)).one()
