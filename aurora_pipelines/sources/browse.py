"""Self-service data access for one caller: browse the tables their team may read, query them.

Shared by `aurora sources|query` and the platform API's `sources` and `queries` routes. The
caller is an authenticated user of the policy; their team's grants decide everything: a table
outside them is absent from `list_sources`, and naming it (`show_source`, a query) is refused
with the table named and the refusal audited (`access_denied`). Every query that runs is
audited (`query_run`: sha256 of the SQL, tables, page, row count) and kept in the user's
history; nothing is written for a refused one.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from aurora_pipelines.sources.access import (
    AccessDenied,
    DataAccessPolicy,
    PiiAction,
    SourceAccess,
    load_data_access,
    pii_key,
)
from aurora_pipelines.sources.query_engine import QueryLimits, QueryPage, run_page, sql_hash
from aurora_pipelines.sources.query_params import bind_values, guard_template
from aurora_pipelines.sources.query_store import HistoryEntry, QueryStore, SavedQuery
from aurora_pipelines.sources.sql_guard import GuardedQuery, QueryRefused, guard_query
from aurora_pipelines.sources.suggestions import suggest
from aurora_pipelines.sources.tables import CatalogTable, catalog_tables, describe, find_table
from aurora_pipelines.sources.tables import row_count as table_rows
from aurora_pipelines.specs import SourceSpec

if TYPE_CHECKING:
    import duckdb

    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.settings import Settings

QUERY_EVENT = "query_run"

# The fix for each kind of refusal, in the words of someone running a query (not a spec).
REFUSAL_FIXES = (
    ("statements", "run one SELECT at a time"),
    (
        "read-only SELECT",
        "queries here only read; data changes go through an experiment's pipeline",
    ),
    ("does not parse", "check the SQL (Spark SQL dialect), e.g. quotes and commas"),
)


@dataclass(frozen=True)
class SourceSummary:
    name: str
    format: str
    partition_columns: list[str]
    teams: list[str]  # which of the caller's teams may read it


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str
    pii: PiiAction | None  # what the caller sees: dropped columns are listed as such


@dataclass(frozen=True)
class SourceDetail(SourceSummary):
    columns: list[ColumnInfo] = field(default_factory=list)
    rows: int = 0


@dataclass(frozen=True)
class QueryResult:
    page: QueryPage
    sql_hash: str
    tables: list[str]
    history_id: int
    saved_query: str | None = None

    def as_json(self) -> dict[str, Any]:
        p = self.page
        return {
            "columns": [{"name": n, "type": t} for n, t in p.columns],
            "rows": p.rows,
            "page": p.page,
            "limit": p.limit,
            "row_count": p.row_count,
            "has_more": p.has_more,
            "next_page": p.page + 1 if p.has_more else None,
            "elapsed_ms": p.elapsed_ms,
            "sql_hash": self.sql_hash,
            "tables": self.tables,
            "history_id": self.history_id,
            "saved_query": self.saved_query,
            "suggestions": p.suggestions,
        }


def _with_fix(exc: QueryRefused) -> QueryRefused:
    text = str(exc).replace("; fix `source.sql`", "").replace("`source.sql`", "the query")
    fix = next((f for key, f in REFUSAL_FIXES if key in text), None)
    return type(exc)(f"{text}; {fix}" if fix and fix not in text else text)


@dataclass
class DataBrowser:
    """The catalog and the query engine as one user sees them."""

    settings: Settings
    store: GovernanceStore
    user: str
    limits: QueryLimits = field(default_factory=QueryLimits)

    @cached_property
    def policy(self) -> DataAccessPolicy:
        return load_data_access(self.settings.policy)

    @cached_property
    def team(self) -> str:
        known = {u.name: u for u in self.store.policy.users}
        if self.user not in known:
            self.store.audit("access_denied", self.user, "sources", {"reason": "unknown user"})
            raise AccessDenied(
                f"'{self.user}' is not a user of the governance policy, so no team grants "
                f"apply; use an identity listed in {self.settings.policy}"
            )
        return known[self.user].team

    @property
    def teams(self) -> list[str]:
        return [self.team]

    @cached_property
    def queries(self) -> QueryStore:
        return QueryStore(self.store.engine)

    def _access(self) -> SourceAccess:
        return SourceAccess(
            policy=self.policy,
            team=self.team,
            actor=self.user,
            audit=self.store.audit,
            policy_path=str(self.settings.policy),
        )

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A fresh connection (its own temporary views) to the warehouse's locked DuckDB."""
        base = _warehouse_db(str(self.settings.warehouse_dir))
        with _DATABASES_LOCK:  # the shared connection object itself is not thread-safe
            return base.cursor()

    # Browsing

    def list_sources(self, database: str | None = None) -> list[SourceSummary]:
        """The catalog tables the caller's team may read; others are not listed."""
        return [
            SourceSummary(t.name, t.format, t.partition_columns, self.teams)
            for t in catalog_tables(self.settings.warehouse_dir, database)
            if self.policy.may_read(self.team, t.name)
        ]

    def _readable(self, name: str) -> CatalogTable:
        """The table, after the grant check (a refusal is audited and names the table)."""
        self._access().authorize(SourceSpec(kind="table", table=name.lower()))
        return find_table(self.settings.warehouse_dir, name)

    def show_source(self, name: str) -> SourceDetail:
        table = self._readable(name)
        with self._connect() as con:
            columns = describe(con, table)
            rows = table_rows(con, table)
        actions = self.policy.pii_actions(table.name, [c for c, _ in columns])
        return SourceDetail(
            table.name,
            table.format,
            table.partition_columns,
            self.teams,
            [ColumnInfo(c, t, actions.get(c)) for c, t in columns],
            rows,
        )

    # Queries

    def _guard(self, sql: str) -> GuardedQuery:
        try:
            guarded = guard_query(sql)
        except QueryRefused as exc:
            refused = _with_fix(exc)
            self.store.audit(
                "access_denied",
                self.user,
                "query",
                {"team": self.team, "reason": str(refused), "sql_sha256": sql_hash(sql)},
            )
            raise refused from None
        return guarded

    def _check_grants(self, guarded: GuardedQuery) -> None:
        """Before any file is opened: AccessDenied naming every table outside the grants,
        each audited (`access_denied`)."""
        if any(not self.policy.may_read(self.team, t) for t in guarded.tables):
            sql = guarded.expression.sql(dialect="spark")
            self._access().authorize(SourceSpec(kind="query", sql=sql))

    def _execute(
        self,
        guarded: GuardedQuery,
        sql: str,
        *,
        page: int,
        limit: int,
        params: dict[str, Any] | None = None,
        saved_query: str | None = None,
    ) -> QueryResult:
        self._check_grants(guarded)
        tables = {name: find_table(self.settings.warehouse_dir, name) for name in guarded.tables}
        with self._connect() as con:
            names = {n: _names(con, t) for n, t in tables.items()}
            widths = {n: len(cols) for n, cols in names.items()}
            pii = {n: self.policy.pii_actions(n, cols) for n, cols in names.items()}
            result = run_page(
                con,
                guarded,
                tables,
                names,
                pii,
                page=page,
                limit=limit,
                limits=self.limits,
                params=params,
                pii_key=pii_key(self.settings),
            )
        result.suggestions = suggest(guarded, tables, widths)
        digest = sql_hash(sql)
        self.store.audit(
            QUERY_EVENT,
            self.user,
            f"query:{digest[:16]}",
            {
                "team": self.team,
                "sql_sha256": digest,
                "tables": guarded.tables,
                "page": page,
                "limit": limit,
                "rows": result.row_count,
                "saved_query": saved_query,
            },
        )
        entry = self.queries.record(
            self.user, sql, digest, guarded.tables, result.row_count, saved_query
        )
        return QueryResult(result, digest, guarded.tables, entry, saved_query)

    def run_query(self, sql: str, *, page: int = 1, limit: int = 100) -> QueryResult:
        """One page of an ad-hoc query."""
        return self._execute(self._guard(sql), sql, page=page, limit=limit)

    def save_query(
        self,
        name: str,
        sql: str,
        params: dict[str, str],
        *,
        shared: bool = False,
        description: str = "",
    ) -> SavedQuery:
        """Save a named template after guarding it and checking the tables' grants."""
        try:
            guarded = guard_template(sql, params)
        except QueryRefused as exc:
            raise _with_fix(exc) from None
        self._check_grants(guarded)
        saved = self.queries.save(
            name, self.user, sql, params, self.team if shared else None, description
        )
        self.store.audit(
            "query_saved",
            self.user,
            f"saved_query:{name}",
            {"sql_sha256": sql_hash(sql), "tables": guarded.tables, "team": saved.team},
        )
        return saved

    def run_saved(
        self, name: str, values: dict[str, Any], *, page: int = 1, limit: int = 100
    ) -> QueryResult:
        """One page of a saved query with its parameters bound (validated first)."""
        saved = self.queries.get_readable(name, self.user, self.teams)
        bound = bind_values(saved.params, values)
        guarded = guard_template(saved.sql, saved.params)
        return self._execute(
            guarded, saved.sql, page=page, limit=limit, params=bound, saved_query=name
        )

    def saved_queries(self) -> list[SavedQuery]:
        return self.queries.list_readable(self.user, self.teams)

    def history(
        self, last: int = 20, search: str | None = None, favourites: bool = False
    ) -> list[HistoryEntry]:
        return self.queries.history(self.user, last, search, favourites)

    def favourite(self, entry_id: int, on: bool = True) -> None:
        self.queries.set_favourite(self.user, entry_id, on)


_DATABASES: dict[str, duckdb.DuckDBPyConnection] = {}
_DATABASES_LOCK = threading.Lock()


def _warehouse_db(warehouse: str) -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per warehouse and process that may read the warehouse and
    nothing else, for good (configuration locked): a user query cannot reach another file,
    an extension or the settings. Each query takes its own cursor (DuckDB's per-thread
    connection), so concurrent API requests do not share temporary views."""
    import duckdb

    with _DATABASES_LOCK:
        if warehouse not in _DATABASES:
            con = duckdb.connect()
            con.execute("SET allowed_directories = $dirs", {"dirs": [warehouse.rstrip("/") + "/"]})
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            _DATABASES[warehouse] = con
        return _DATABASES[warehouse]


def _names(con: duckdb.DuckDBPyConnection, table: CatalogTable) -> list[str]:
    return [c for c, _ in describe(con, table)]


def browser_for(settings: Settings, user: str) -> DataBrowser:
    from aurora_pipelines.governance.store import GovernanceStore

    return DataBrowser(settings, GovernanceStore.from_settings(settings), user)
