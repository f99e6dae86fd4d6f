"""Read a governed source (catalog table, CSV, Parquet, Delta path or JDBC table) on Spark.

User queries (`kind: query`) and team grants go through `access.SourceAccess`, which calls this.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from aurora_pipelines.errors import SourceError
from aurora_pipelines.lake import delta
from aurora_pipelines.specs import CsvOptions, SourceSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def read_source(spark: SparkSession, source: SourceSpec) -> DataFrame:
    """The source's current rows; SourceError says what is missing and how to fix it."""
    if source.kind == "table":
        return read_table(spark, source.table or "")
    if source.kind == "jdbc":
        return _read_jdbc(spark, source)
    if source.kind in ("query", "saved_query"):
        raise SourceError("query sources are read through SourceAccess (team grants apply)")
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
        return _read_csv(spark, source, path)
    return spark.read.parquet(str(path))


CSV_DELIMITERS = (";", "\t", "|", ",")
REPLACEMENT_CHAR = "\ufffd"  # what a wrong encoding decodes undecodable bytes to
SPARK_CHARSETS = ("UTF-8", "ISO-8859-1", "US-ASCII", "UTF-16", "UTF-16BE", "UTF-16LE", "UTF-32")
ENCODING_ALIASES = {"latin1": "ISO-8859-1", "latin-1": "ISO-8859-1", "iso8859-1": "ISO-8859-1"}


def _read_csv(spark: SparkSession, source: SourceSpec, path: Path) -> DataFrame:
    """CSV with explicit options; a wrong delimiter or encoding is reported, not ingested."""
    from pyspark.sql import functions as F

    options = source.csv or CsvOptions()
    encoding = ENCODING_ALIASES.get(options.encoding.lower().replace("_", "-"), options.encoding)
    try:
        df = spark.read.options(
            header=str(options.header).lower(),
            inferSchema="true",
            sep=options.delimiter,
            encoding=encoding,
        ).csv(str(path))
    except Exception as exc:
        if "CHARSET" not in str(exc):
            raise
        raise SourceError(
            f"CSV encoding '{options.encoding}' is not supported by Spark; set `source.csv: "
            f"{{encoding: ...}}` to one of {', '.join(SPARK_CHARSETS)}"
        ) from None
    if len(df.columns) == 1:
        name = df.columns[0]
        found = [d for d in CSV_DELIMITERS if d != options.delimiter and d in name]
        if found:
            shown = found[0].replace("\t", "\\t")
            raise SourceError(
                f"CSV {path} read as one column named '{name[:60]}', which contains "
                f"'{shown}': the file is not '{options.delimiter}'-delimited; set "
                f'`source.csv: {{delimiter: "{shown}"}}`'
            )
    strings = [f.name for f in df.schema.fields if f.dataType.simpleString() == "string"]
    bad_names = [c for c in df.columns if REPLACEMENT_CHAR in c]
    probe = df.limit(1000)
    flags = [
        F.max(F.col(f"`{c}`").contains(REPLACEMENT_CHAR).cast("int")).alias(c) for c in strings
    ]
    bad_values = probe.select(flags).first() if strings else None
    bad = bad_names + [c for c in strings if bad_values and bad_values[c]]
    if bad:
        raise SourceError(
            f"CSV {path} is not valid {options.encoding} (undecodable bytes in column(s) "
            f"{', '.join(bad[:5])}); set `source.csv: {{encoding: ...}}`, e.g. ISO-8859-1 (latin1)"
        )
    return df


def _read_jdbc(spark: SparkSession, source: SourceSpec) -> DataFrame:
    """A JDBC table; the password comes from the environment variable the spec names."""
    options = {"url": source.url or "", "dbtable": source.table or ""}
    if source.user:
        options["user"] = source.user
    if source.password_env:
        password = os.environ.get(source.password_env)
        if password is None:
            raise SourceError(
                f"environment variable {source.password_env} (source.password_env) is not set; "
                "export the database password in it"
            )
        options["password"] = password
    if (source.url or "").startswith("jdbc:postgresql:"):
        options["driver"] = "org.postgresql.Driver"
    try:
        # Reading the schema opens a connection: bad URLs, credentials or tables fail here.
        return spark.read.format("jdbc").options(**options).load()
    except Exception as exc:
        text = str(exc)
        reason = next(
            (
                line.strip()
                for line in text.splitlines()
                if "PSQLException" in line or "SQLException" in line or "ClassNotFound" in line
            ),
            text.strip().splitlines()[0] if text.strip() else type(exc).__name__,
        )
        hint = (
            "the JDBC driver jar is not on Spark's classpath (install libpostgresql-jdbc-java "
            "or set AURORA_SPARK_JARS)"
            if "ClassNotFound" in reason or "No suitable driver" in text
            else "check `source.url`, `source.table`, `source.user` and the password"
        )
        raise SourceError(
            f"JDBC source {source.display} cannot be read: {reason[:300]}; {hint}"
        ) from None


def read_table(spark: SparkSession, table: str) -> DataFrame:
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
    try:
        location.encode("utf-8")
    except UnicodeEncodeError:
        raise SourceError(
            f"source {location!r} is not valid text; name a file path, a Delta directory "
            "or database.table"
        ) from None
    try:
        path = Path(location).expanduser()
    except RuntimeError:  # `~name` of no known user: a literal path, not a home directory
        path = Path(location)
    if path.suffix.lower() == ".csv":
        return SourceSpec(kind="csv", path=str(path.resolve()))
    if path.suffix.lower() in {".parquet", ".pq"}:
        return SourceSpec(kind="parquet", path=str(path.resolve()))
    if path.is_dir() or "/" in location:
        return SourceSpec(kind="delta", path=str(path.resolve()))
    return SourceSpec(kind="table", table=location)
