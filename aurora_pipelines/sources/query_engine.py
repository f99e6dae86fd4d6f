"""Run one guarded query page on DuckDB over the catalog's files, through masked views.

Each table the query names becomes a temporary view that drops or masks its PII columns
(HMAC-SHA256 under the PII key, the same digest Spark ingestion writes), and the query is
rewritten onto those views, so no spelling of a column reaches the raw data. The page is cut
server-side (LIMIT page size + 1, to know whether another page follows, and OFFSET), a page
past the end is empty, a page past the row cap is refused, and a query running longer than
the timeout is interrupted. Parameters are bound by DuckDB (`$name`), never substituted.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from aurora_pipelines.sources.sql_guard import GuardedQuery, QueryRefused, replace_tables
from aurora_pipelines.sources.tables import CatalogTable

if TYPE_CHECKING:
    import duckdb

    from aurora_pipelines.sources.access import PiiAction

ENGINE_DIALECT = "duckdb"


class QueryTimeout(QueryRefused):
    """The query ran longer than the limit and was interrupted."""


@dataclass(frozen=True)
class QueryLimits:
    """Server-side bounds no caller can raise."""

    max_page_size: int = 1000
    row_cap: int = 100_000  # rows reachable by paging; beyond, filter or aggregate
    timeout_seconds: float = 30.0


@dataclass
class QueryPage:
    columns: list[tuple[str, str]]
    rows: list[list[Any]]  # JSON-ready values
    page: int
    limit: int
    has_more: bool
    elapsed_ms: float
    suggestions: list[str] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return len(self.rows)


def sql_hash(sql: str) -> str:
    """The audit's fingerprint of a query: sha256 of its whitespace-normalised text."""
    return hashlib.sha256(" ".join(sql.split()).encode("utf-8")).hexdigest()


def _hmac_sql(column: str, key: str) -> str:
    """HMAC-SHA256 hex of a column as DuckDB SQL (equal to `access._hmac_sha256` on Spark)."""
    block = 64
    k = key.encode("utf-8")
    k = hashlib.sha256(k).digest() if len(k) > block else k
    k = k.ljust(block, b"\0")
    inner, outer = bytes(b ^ 0x36 for b in k).hex(), bytes(b ^ 0x5C for b in k).hex()
    value = f"encode(CAST({column} AS VARCHAR))"
    return f"sha256(unhex('{outer}') || unhex(sha256(unhex('{inner}') || {value})))"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def masked_view_sql(
    table: CatalogTable,
    names: list[str],
    actions: dict[str, PiiAction],
    key: str | None,
) -> str:
    """SELECT over the table (columns `names`) with PII columns dropped or masked."""
    columns = []
    for name in names:
        action = actions.get(name)
        if action == "drop":
            continue
        if action == "mask":
            masked = (
                _hmac_sql(_quote(name), key) if key else f"sha256(CAST({_quote(name)} AS VARCHAR))"
            )
            columns.append(f"{masked} AS {_quote(name)}")
        else:
            columns.append(_quote(name))
    return f"SELECT {', '.join(columns) or 'NULL AS no_columns'} FROM {table.scan_sql()}"


def _paged(query: GuardedQuery, limit: int, offset: int) -> GuardedQuery:
    root = query.expression.copy()
    if root.args.get("limit") or root.args.get("offset") or root.args.get("fetch"):
        # The user's own LIMIT stays inside; the page is cut from its result.
        root = exp.select("*").from_(root.subquery("aurora_page"))
    paged = root.limit(limit + 1)
    if offset:
        paged = paged.offset(offset)
    return GuardedQuery(expression=paged, tables=query.tables)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date | dtime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def run_page(
    con: duckdb.DuckDBPyConnection,
    query: GuardedQuery,
    tables: dict[str, CatalogTable],
    columns: dict[str, list[str]],
    pii: dict[str, dict[str, PiiAction]],
    *,
    page: int,
    limit: int,
    limits: QueryLimits,
    params: dict[str, Any] | None = None,
    pii_key: str | None = None,
) -> QueryPage:
    """One page (1-based) of `query`; QueryRefused for a bad page, an error or a timeout."""
    import duckdb

    if page < 1:
        raise QueryRefused(f"page {page} does not exist; pages start at 1")
    if not 1 <= limit <= limits.max_page_size:
        raise QueryRefused(
            f"limit {limit} is out of range; use 1 to {limits.max_page_size} rows per page"
        )
    offset = (page - 1) * limit
    if offset + limit > limits.row_cap:
        raise QueryRefused(
            f"page {page} of {limit} rows reaches past the row cap of {limits.row_cap:,} rows; "
            "narrow the query (WHERE) or aggregate it (GROUP BY) instead of paging further"
        )
    views = {}
    for name in query.tables:
        view = "aurora_v_" + hashlib.sha1(name.encode()).hexdigest()[:12]
        sql = masked_view_sql(tables[name], columns[name], pii.get(name, {}), pii_key)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {sql}")
        views[name] = view
    sql = replace_tables(_paged(query, limit, offset), views, dialect=ENGINE_DIALECT)
    timer = threading.Timer(limits.timeout_seconds, con.interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        result = con.execute(sql, params or None)
        described = result.description or []
        fetched = result.fetchall()
    except duckdb.InterruptException:
        raise QueryTimeout(
            f"the query ran longer than {limits.timeout_seconds:g} s and was stopped; "
            "select fewer columns, filter (WHERE) or aggregate"
        ) from None
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0][:300]
        for name, view in views.items():
            message = message.replace(view, name)
        dropped = [f"{t}.{c}" for t, cols in pii.items() for c, a in cols.items() if a == "drop"]
        hidden = [d for d in dropped if f'"{d.rsplit(".", 1)[1]}"' in message]
        if hidden:
            message += (
                f" ({hidden[0]} is PII, dropped by the governance policy `data_access.pii`; "
                "query without it)"
            )
        raise QueryRefused(f"the query does not run: {message}") from None
    finally:
        timer.cancel()
    elapsed = (time.perf_counter() - started) * 1000
    shown = [(d[0], str(d[1])) for d in described]
    rows = [[_json_value(v) for v in row] for row in fetched[:limit]]
    return QueryPage(shown, rows, page, limit, len(fetched) > limit, round(elapsed, 2))
