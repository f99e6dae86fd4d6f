"""Read a governed source (catalog table, CSV, Parquet or Delta path) as a Spark DataFrame."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from aurora_pipelines.errors import SourceError
from aurora_pipelines.lake import delta
from aurora_pipelines.specs import SourceSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def read_source(spark: SparkSession, source: SourceSpec) -> DataFrame:
    """The source's current rows; SourceError says what is missing and how to fix it."""
    if source.kind == "table":
        return _read_table(spark, source.table or "")
    path = Path(source.path or "").expanduser()
    if not path.exists():
        raise SourceError(
            f"source path {path} does not exist; fix `source.path` or create the file first"
        )
    if source.kind == "delta":
        if not delta.is_delta_table(path):
            raise SourceError(f"{path} is not a Delta table (no _delta_log); check `source.path`")
        return delta.read_spark(spark, path)
    if source.kind == "csv":
        # Explicit options: a header row and type inference, so columns keep their names.
        return spark.read.options(header="true", inferSchema="true").csv(str(path))
    return spark.read.parquet(str(path))


def _read_table(spark: SparkSession, table: str) -> DataFrame:
    if "." not in table:
        raise SourceError(f"catalog table '{table}' must be qualified as database.table")
    database = table.split(".", 1)[0]
    if not spark.catalog.databaseExists(database):
        raise SourceError(
            f"catalog database '{database}' does not exist (table '{table}'); "
            "seed it with `aurora seed` or point `source.table` at an existing table"
        )
    if not spark.catalog.tableExists(table):
        known = ", ".join(t.name for t in spark.catalog.listTables(database)) or "none"
        raise SourceError(
            f"catalog table '{table}' does not exist (tables in {database}: {known}); "
            "fix `source.table`"
        )
    return spark.table(table)


def require_columns(df: DataFrame, columns: dict[str, str], source: SourceSpec) -> None:
    """Fail with the list of available columns when a column the spec names is absent."""
    available = df.columns
    for role, column in columns.items():
        if column and column not in available:
            shown = ", ".join(available[:25]) + (", ..." if len(available) > 25 else "")
            raise SourceError(
                f"{role} column '{column}' is not in source '{source.display}' "
                f"(columns: {shown}); fix the spec's `{role}` or choose another source"
            )


def infer_source(location: str) -> SourceSpec:
    """A SourceSpec from a CLI argument: a file path (by suffix), a Delta dir, or db.table."""
    path = Path(location).expanduser()
    if path.suffix.lower() == ".csv":
        return SourceSpec(kind="csv", path=str(path.resolve()))
    if path.suffix.lower() in {".parquet", ".pq"}:
        return SourceSpec(kind="parquet", path=str(path.resolve()))
    if path.is_dir() or "/" in location:
        return SourceSpec(kind="delta", path=str(path.resolve()))
    return SourceSpec(kind="table", table=location)
