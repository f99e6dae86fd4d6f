"""Aliases, registered-model tags and version lookups read and written straight on MLflow's SQL
registry tables, for the commands a person waits on (`aurora status`, `aurora deploy ...`).

Why: importing MLflow costs ~3.5 s and opening its SQLAlchemy store another ~2.3 s (schema and
migration checks), while a rollback is three alias rows and three tags. On a SQLite registry
this module uses the standard library's sqlite3 (so `aurora status` imports no SQLAlchemy); on
PostgreSQL, SQLAlchemy Core. The SQL is the same: both take `:name` parameters.

It is used only when it can be exactly right: a SQL tracking URI (sqlite, postgresql), MLflow
workspaces off, and the database at a schema revision this module was written against
(`KNOWN_REVISIONS`; a test compares it with the head of MLflow's own migrations, so an MLflow
upgrade with a new revision fails that test instead of writing a changed schema). Anything else
(an HTTP tracking server, another revision) gets None from `sql_registry()` and callers go
through MlflowClient as before. Writes follow MlflowClient's semantics (an alias may only point
at an existing version of an existing model) and one `apply()` is one transaction, so a rollback
never leaves a half-moved routing.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aurora_pipelines.errors import NotFound

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

# Alembic revisions of MLflow's tracking schema whose registry tables this module knows
# (MLflow 3.17: aliases, tags and versions carry a `workspace` column, 'default' without
# workspaces). tests/unit/test_sql_registry.py checks the newest equals MLflow's head.
KNOWN_REVISIONS = frozenset({"dc11669786a5"})
WORKSPACE = "default"
_SQL_SCHEMES = ("sqlite:", "postgresql:", "postgresql+")
SQLITE_BUSY_TIMEOUT_S = 30  # wait for another writer (MLflow, a sensor) rather than fail


class Connection(Protocol):
    """What the queries below need of a connection: `:name`-parameter SQL in, rows out."""

    def execute(self, sql: str, params: dict[str, object]) -> Any: ...


class _Database(Protocol):
    def connect(self) -> contextlib.AbstractContextManager[Connection]: ...
    def begin(self) -> contextlib.AbstractContextManager[Connection]: ...


class _Sqlite:
    """A SQLite registry file through sqlite3; `begin()` takes the write lock up front."""

    def __init__(self, path: str) -> None:
        self.path = path

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit mode: transactions are only the ones begin() opens.
        conn = sqlite3.connect(self.path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None)
        try:
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def begin(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


class _TextConnection:
    """A SQLAlchemy connection taking plain SQL strings, as sqlite3's does."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, params: dict[str, object]) -> Any:
        from sqlalchemy import text

        return self._conn.execute(text(sql), params)


class _SqlAlchemy:
    """Another SQL registry (PostgreSQL) through a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield _TextConnection(conn)

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield _TextConnection(conn)


@dataclass(frozen=True)
class VersionRow:
    """The registry row of one model version (what `aurora status` shows)."""

    version: str
    run_id: str
    tags: dict[str, str]


class SqlRegistry:
    """MLflow's registry tables on one database (see the module docstring for when it is used)."""

    def __init__(self, database: _Database) -> None:
        self.database = database

    # --- reads ------------------------------------------------------------------------

    def routing_view(self, name: str) -> tuple[dict[str, str], dict[str, str]] | None:
        """(aliases -> version, registered-model tags) of model `name`; None if unknown."""
        with self.database.connect() as conn:
            if not _model_exists(conn, name):
                return None
            aliases = _rows(
                conn,
                "SELECT alias, version FROM registered_model_aliases "
                "WHERE workspace = :ws AND name = :name",
                name=name,
            )
            tags = _rows(
                conn,
                'SELECT "key", value FROM registered_model_tags '
                "WHERE workspace = :ws AND name = :name",
                name=name,
            )
        return {a: str(v) for a, v in aliases}, {k: v for k, v in tags}

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version `alias` points at; None if the alias or the model does not exist."""
        with self.database.connect() as conn:
            found = _rows(
                conn,
                "SELECT version FROM registered_model_aliases "
                "WHERE workspace = :ws AND name = :name AND alias = :alias",
                name=name,
                alias=alias,
            )
        return str(found[0][0]) if found else None

    def latest_version(self, name: str) -> VersionRow | None:
        """The highest-numbered version of `name` with its tags; None if it has none."""
        with self.database.connect() as conn:
            found = _rows(
                conn,
                "SELECT version, run_id FROM model_versions WHERE workspace = :ws "
                "AND name = :name AND current_stage != 'Deleted_Internal' "
                "ORDER BY version DESC LIMIT 1",
                name=name,
            )
            if not found:
                return None
            version, run_id = found[0]
            tags = _rows(
                conn,
                'SELECT "key", value FROM model_version_tags '
                "WHERE workspace = :ws AND name = :name AND version = :version",
                name=name,
                version=int(version),
            )
        return VersionRow(str(version), run_id or "", {k: v for k, v in tags})

    def run_metrics(self, run_id: str) -> dict[str, float]:
        """The latest value of every metric of a run (what MlflowClient.get_run reports)."""
        if not run_id:
            return {}
        with self.database.connect() as conn:
            rows = _rows(
                conn,
                'SELECT "key", value, is_nan FROM latest_metrics WHERE run_uuid = :run',
                run=run_id,
            )
        return {k: math.nan if is_nan else float(v) for k, v, is_nan in rows}

    # --- writes -----------------------------------------------------------------------

    def apply(
        self, name: str, aliases: dict[str, str | None], tags: dict[str, str] | None = None
    ) -> None:
        """In one transaction: point each alias at its version (None removes it) and set the
        registered-model tags. NotFound (nothing written) if the model or a version is missing."""
        with self.database.begin() as conn:
            if not _model_exists(conn, name):
                raise NotFound(f"registered model '{name}' not found in the MLflow registry")
            for alias, version in aliases.items():
                key = {"ws": WORKSPACE, "name": name, "alias": alias}
                if version is None:
                    conn.execute(
                        "DELETE FROM registered_model_aliases "
                        "WHERE workspace = :ws AND name = :name AND alias = :alias",
                        key,
                    )
                    continue
                number = int(version)
                if not _rows(
                    conn,
                    "SELECT 1 FROM model_versions WHERE workspace = :ws AND name = :name "
                    "AND version = :version AND current_stage != 'Deleted_Internal'",
                    name=name,
                    version=number,
                ):
                    raise NotFound(f"model '{name}' has no version {version} for alias {alias}")
                _upsert(
                    conn,
                    "registered_model_aliases",
                    key={**key},
                    column="version",
                    value=number,
                    where="workspace = :ws AND name = :name AND alias = :alias",
                    columns="workspace, name, alias",
                    values=":ws, :name, :alias",
                )
            for tag, value in (tags or {}).items():
                _upsert(
                    conn,
                    "registered_model_tags",
                    key={"ws": WORKSPACE, "name": name, "key": tag},
                    column="value",
                    value=value,
                    where='workspace = :ws AND name = :name AND "key" = :key',
                    columns='workspace, name, "key"',
                    values=":ws, :name, :key",
                )


def _rows(conn: Connection, sql: str, **params: object) -> list[tuple]:
    rows: Iterable[Any] = conn.execute(sql, {"ws": WORKSPACE, **params})
    return [tuple(r) for r in rows]


def _model_exists(conn: Connection, name: str) -> bool:
    return bool(
        _rows(
            conn,
            "SELECT 1 FROM registered_models WHERE workspace = :ws AND name = :name",
            name=name,
        )  # fmt: skip
    )


def _upsert(
    conn: Connection,
    table: str,
    *,
    key: dict[str, object],
    column: str,
    value: object,
    where: str,
    columns: str,
    values: str,
) -> None:
    """UPDATE, else INSERT: portable across SQLite and PostgreSQL (the row's key is the
    table's primary key, so a concurrent insert fails the transaction rather than duplicating)."""
    params = {**key, "value": value}
    updated = conn.execute(f"UPDATE {table} SET {column} = :value WHERE {where}", params)
    if not updated.rowcount:
        conn.execute(f"INSERT INTO {table} ({columns}, {column}) VALUES ({values}, :value)", params)


def sql_registry(tracking_uri: str) -> SqlRegistry | None:
    """The direct SQL path for `tracking_uri`, or None when MlflowClient must be used."""
    if not tracking_uri.startswith(_SQL_SCHEMES):
        return None
    if os.environ.get("MLFLOW_ENABLE_WORKSPACES", "").lower() in ("1", "true"):
        return None
    if tracking_uri not in _OPEN:
        registry = _open(tracking_uri)
        if registry is None:
            return None  # not cached: MLflow may create or migrate the database later
        _OPEN[tracking_uri] = registry
    return _OPEN[tracking_uri]


_OPEN: dict[str, SqlRegistry] = {}  # one engine per registry per process


def _open(tracking_uri: str) -> SqlRegistry | None:
    if tracking_uri.startswith("sqlite:"):
        path = tracking_uri.split("///", 1)[-1]
        if not path or not os.path.exists(path):
            return None  # no registry yet: MLflow creates (and migrates) it
        return _at_known_revision(_Sqlite(path), sqlite3.Error)
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(tracking_uri)
    registry = _at_known_revision(_SqlAlchemy(engine), SQLAlchemyError)
    if registry is None:
        engine.dispose()
    return registry


def _at_known_revision(
    database: _Database, errors: type[Exception] | tuple[type[Exception], ...]
) -> SqlRegistry | None:
    """A registry on `database` if its schema is at a revision this module knows, else None."""
    try:
        with database.connect() as conn:
            found = _rows(conn, "SELECT version_num FROM alembic_version")
    except errors:
        found = []
    revision = found[0][0] if found else None
    return SqlRegistry(database) if revision in KNOWN_REVISIONS else None
