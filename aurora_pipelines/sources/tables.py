"""The catalog's tables as files: found under the Spark warehouse, read without a JVM.

Spark's managed tables live at `<warehouse>/<database>.db/<table>/` (Parquet part files, or a
Delta table with its `_delta_log`). Browsing and previewing read those files directly with
DuckDB: a `sources list` or a first page must not wait ~11 s for a Spark session, nor take
the embedded Derby metastore's single-process lock away from a running pipeline. Hive-style
partition directories (`day=2026-12-01/`) are recognised and reported as partition columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from aurora_pipelines.errors import NotFound

if TYPE_CHECKING:
    import duckdb

TableFormat = Literal["parquet", "delta"]
DATABASE_SUFFIX = ".db"
IDENTIFIER = re.compile(r"^[a-z0-9_]+$")
DEFAULT_DATABASE = "default"  # its tables sit in the warehouse root, not in default.db/


@dataclass(frozen=True)
class CatalogTable:
    name: str  # database.table, lower case (the resource name the grants match)
    location: Path
    format: TableFormat
    partition_columns: list[str] = field(default_factory=list)

    @property
    def database(self) -> str:
        return self.name.split(".", 1)[0]

    @cached_property
    def data_files(self) -> list[str]:
        """The data files of the table's current version (listed once per lookup)."""
        if self.format == "delta":
            from deltalake import DeltaTable

            # file_uris(), not to_pyarrow_*: those abort the interpreter at exit (FACTS.md).
            return list(DeltaTable(str(self.location)).file_uris())
        return sorted(
            str(p)
            for p in self.location.rglob("*.parquet")
            if not any(part.startswith(("_", ".")) for part in p.relative_to(self.location).parts)
        )

    def scan_sql(self) -> str:
        """A DuckDB table expression reading the table's rows."""
        files = self.data_files
        if not files:
            return "(SELECT NULL WHERE FALSE)"
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        hive = ", hive_partitioning = true" if self.partition_columns else ""
        return f"read_parquet([{listed}]{hive})"


def _partition_columns(location: Path, fmt: TableFormat) -> list[str]:
    if fmt == "delta":
        from deltalake import DeltaTable

        return list(DeltaTable(str(location)).metadata().partition_columns)
    columns: list[str] = []
    current = location
    while True:
        subdirs = [d for d in current.iterdir() if d.is_dir() and "=" in d.name]
        if not subdirs:
            return columns
        columns.append(subdirs[0].name.split("=", 1)[0])
        current = subdirs[0]


def _database_dir(warehouse: Path, database: str) -> Path:
    return warehouse if database == DEFAULT_DATABASE else warehouse / f"{database}{DATABASE_SUFFIX}"


def _table_at(database: str, path: Path) -> CatalogTable | None:
    if not path.is_dir() or path.name.startswith((".", "_")) or path.suffix == DATABASE_SUFFIX:
        return None
    fmt: TableFormat = "delta" if (path / "_delta_log").is_dir() else "parquet"
    name = f"{database}.{path.name}".lower()
    return CatalogTable(name, path, fmt, _partition_columns(path, fmt))


def catalog_tables(warehouse: Path, database: str | None = None) -> list[CatalogTable]:
    """Every table of the warehouse (or of one database), by name."""
    if not warehouse.is_dir():
        return []
    found: list[CatalogTable] = []
    databases = [(DEFAULT_DATABASE, warehouse)] + [
        (d.name.removesuffix(DATABASE_SUFFIX).lower(), d)
        for d in sorted(warehouse.glob(f"*{DATABASE_SUFFIX}"))
        if d.is_dir()
    ]
    for db, db_dir in databases:
        if database and db != database.lower():
            continue
        for table_dir in sorted(db_dir.iterdir()):
            table = _table_at(db, table_dir)
            if table is not None:
                found.append(table)
    return found


def find_table(warehouse: Path, name: str) -> CatalogTable:
    """The table `database.table`; NotFound names the tables that exist instead."""
    if "." not in name:
        raise NotFound(f"table '{name}' must be qualified as database.table")
    database, table = name.lower().split(".", 1)
    if not (IDENTIFIER.match(database) and IDENTIFIER.match(table)):
        # A quoted "name" such as `/abs/path` must never become a path under the warehouse.
        raise NotFound(
            f"'{name}' is not a catalog table name (database.table, letters, "
            "digits and underscores)"
        )
    found = _table_at(database, _database_dir(warehouse, database) / table)
    if found is None:
        raise NotFound(
            f"table '{name}' does not exist; `aurora sources list` shows the tables you may read"
        )
    return found


def describe(con: duckdb.DuckDBPyConnection, table: CatalogTable) -> list[tuple[str, str]]:
    """(column, type) of the table."""
    rows = con.execute(f"DESCRIBE SELECT * FROM {table.scan_sql()}").fetchall()
    return [(r[0], str(r[1])) for r in rows]


def row_count(con: duckdb.DuckDBPyConnection, table: CatalogTable) -> int:
    """Rows of the table (Parquet footers only, no data read)."""
    files = table.data_files
    if not files:
        return 0
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    (count,) = con.execute(
        f"SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata([{listed}])"
    ).fetchone()
    return int(count)
