"""Full-table statistics of a profile in one aggregate pass, on DuckDB or on Spark.

One small interface (`TableScan`), one class per engine:
- `DuckDBScan`: the DataFrame is an unmodified read of local Parquet files (a Delta snapshot's
  file list, a Parquet source), so DuckDB aggregates those files directly in one query. On
  this 2-core machine the same 1M x 30 pass took 1.0 s in DuckDB and 11.3 s on Spark
  `local[2]` (BENCHMARKS.md, bench_profiling); a random sample is one more DuckDB query.
  Delta's own file statistics (delta-rs add actions) are not used: they hold rows, nulls and
  min/max only, which this pass gets for free while it scans for distinct counts and moments.
- `SparkScan`: every other DataFrame (governed sources with PII masking, JDBC, user SQL, a
  cluster's tables): one wide `DataFrame.agg`.
`table_scan(df, files)` picks DuckDB only when it is given the files and can read all of them
with the DataFrame's columns, else Spark. Both return the same dict:
`{"rows": n, <column>: {"non_null", "distinct", "invalid", "min", "max", "mean", "std",
"skew", "distinct_exact"}}` (only the keys that apply to the column's kind). String min/max
are not computed (lexicographic extremes say nothing and cost a pass over every value).
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SPARK_APPROX_RSD = 0.05  # approx_count_distinct's relative standard deviation (Spark's default)
# DuckDB does not document its HyperLogLog's error. Measured on bench_profiling's 30 columns
# (2 to 1M distinct values): exact up to ~100 distinct values, worst relative error 3.2%;
# Spark's estimate at rsd 0.05 was off by 9% on the 1,000-level column.
DUCKDB_APPROX_RSD = 0.03
NUMERIC_KINDS = ("float", "integral", "decimal", "bool")
DUCKDB_MEMORY_LIMIT = "2GB"  # the aggregates stream; this caps the exact id distinct's hash table


def field_kind(field: Any) -> str:
    """Physical kind of a Spark field: float, integral, decimal, bool, date, string or other."""
    from pyspark.sql import types as T

    t = field.dataType
    if isinstance(t, T.FloatType | T.DoubleType):
        return "float"
    if isinstance(t, T.ByteType | T.ShortType | T.IntegerType | T.LongType):
        return "integral"
    if isinstance(t, T.DecimalType):
        return "decimal"
    if isinstance(t, T.BooleanType):
        return "bool"
    if isinstance(t, T.DateType | T.TimestampType | T.TimestampNTZType):
        return "date"
    if isinstance(t, T.StringType | T.CharType | T.VarcharType):
        return "string"
    return "other"


class TableScan(ABC):
    """The full-table side of a profile: aggregates, exact category sets, class balance."""

    engine: str
    approx_rsd: float

    @abstractmethod
    def aggregate(self, id_column: str | None) -> dict[str, Any]:
        """Rows and per-column statistics in one pass (plus the id column's exact distinct)."""

    @abstractmethod
    def category_sets(self, columns: list[str]) -> dict[str, list[str]]:
        """Exact sorted value sets (as strings, nulls left out) of a few small columns."""

    @abstractmethod
    def value_shares(self, column: str, rows: int, limit: int = 100) -> dict[str, float]:
        """Share of rows per value of `column` ("null" for missing), most frequent first."""

    def random_sample(self, fraction: float, rows: int | None, seed: int) -> pd.DataFrame | None:
        """A seeded random sample drawn by the engine itself, or None to sample on Spark."""
        return None

    def to_pandas(self) -> pd.DataFrame | None:
        """The whole table (small tables only), or None to collect it from Spark."""
        return None


# --- Spark ------------------------------------------------------------------------------------


def _spark_col(name: str) -> Any:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


class SparkScan(TableScan):
    engine = "spark"
    approx_rsd = SPARK_APPROX_RSD

    def __init__(self, df: DataFrame) -> None:
        self.df = df

    def aggregate(self, id_column: str | None) -> dict[str, Any]:
        from pyspark.sql import functions as F

        fields = self.df.schema.fields
        exprs = [F.count(F.lit(1)).alias("rows")]
        for i, field in enumerate(fields):
            col = _spark_col(field.name)
            kind = field_kind(field)
            exprs.append(F.count(col).alias(f"{i}__non_null"))
            if kind == "other":
                continue
            exprs.append(F.approx_count_distinct(col, SPARK_APPROX_RSD).alias(f"{i}__distinct"))
            value = col
            if kind == "float":
                bad = F.isnan(col) | col.isin(float("inf"), float("-inf"))
                exprs.append(F.sum(F.when(bad, 1).otherwise(0)).alias(f"{i}__invalid"))
                value = F.when(~bad, col)  # NaN sorts above every number in Spark: keep it out
            elif kind == "string":
                blank = F.when(F.trim(col) == "", 1).otherwise(0)
                exprs.append(F.sum(blank).alias(f"{i}__invalid"))
                continue
            exprs += [F.min(value).alias(f"{i}__min"), F.max(value).alias(f"{i}__max")]
            if kind in NUMERIC_KINDS:
                # No skewness here: Spark's skewness aggregate made this pass ~10x slower;
                # the profile takes it from the sample instead.
                numeric = value.cast("double")
                exprs += [
                    F.avg(numeric).alias(f"{i}__mean"),
                    F.stddev(numeric).alias(f"{i}__std"),
                ]
        row = self.df.agg(*exprs).first().asDict()
        out: dict[str, Any] = {"rows": row["rows"]}
        for i, field in enumerate(fields):
            prefix = f"{i}__"
            out[field.name] = {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}
        if id_column is not None:
            # Exact (duplicate ids must be exact); inside the wide pass an exact distinct makes
            # Spark expand every row, ~4x slower, so it is its own small job.
            exact = self.df.agg(F.count_distinct(_spark_col(id_column))).first()[0]
            out[id_column]["distinct_exact"] = exact
        return out

    def category_sets(self, columns: list[str]) -> dict[str, list[str]]:
        from pyspark.sql import functions as F

        if not columns:
            return {}
        row = self.df.agg(
            *[
                F.collect_set(_spark_col(c).cast("string")).alias(f"c{i}")
                for i, c in enumerate(columns)
            ]
        ).first()
        return {name: sorted(row[f"c{i}"]) for i, name in enumerate(columns)}

    def value_shares(self, column: str, rows: int, limit: int = 100) -> dict[str, float]:
        counts = (
            self.df.groupBy(_spark_col(column))
            .count()
            .orderBy("count", ascending=False)
            .limit(limit)
            .collect()
        )
        return {
            ("null" if r[0] is None else str(r[0])): round(r["count"] / rows, 6) for r in counts
        }


# --- DuckDB -----------------------------------------------------------------------------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _local_path(uri: str) -> str | None:
    """A local filesystem path for a file URI or path; None for remote stores (s3://, ...)."""
    if uri.startswith("file://"):
        return uri[len("file://") :]
    return None if "://" in uri else uri


class DuckDBScan(TableScan):
    """DuckDB over the Parquet files a DataFrame reads unchanged (see `table_scan`)."""

    engine = "duckdb"
    approx_rsd = DUCKDB_APPROX_RSD

    def __init__(self, files: list[str], fields: list[Any]) -> None:
        import duckdb

        self.files = files
        self.fields = fields
        # Spills (the id column's exact distinct on a huge table) go to the temp dir, not cwd.
        spill = os.path.join(tempfile.gettempdir(), f"aurora-duckdb-{os.getpid()}")
        # Without insertion order the id's GROUP BY spills instead of failing (50M ids: 5 s,
        # 1.35 GiB); the sample is ordered by its hash key explicitly.
        self.con = duckdb.connect(
            config={
                "memory_limit": DUCKDB_MEMORY_LIMIT,
                "temp_directory": spill,
                "preserve_insertion_order": False,
            }
        )
        self.con.execute(f"SET threads = {max(1, os.cpu_count() or 1)}")
        self.source = f"read_parquet({self._file_list()}, union_by_name = true)"

    def _file_list(self) -> str:
        return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in self.files) + "]"

    def columns(self) -> set[str]:
        return {r[0] for r in self.con.execute(f"DESCRIBE SELECT * FROM {self.source}").fetchall()}

    def aggregate(self, id_column: str | None) -> dict[str, Any]:
        exprs, keys = ["count(*)"], [("", "rows")]
        for field in self.fields:
            col, kind = _q(field.name), field_kind(field)

            def add(sql: str, key: str, name: str = field.name) -> None:
                exprs.append(sql)
                keys.append((name, key))

            add(f"count({col})", "non_null")
            if kind == "other":
                continue
            add(f"approx_count_distinct({col})", "distinct")
            value = col
            if kind == "float":
                add(f"count_if(isnan({col}) OR isinf({col}))", "invalid")
                value = f"(CASE WHEN isfinite({col}) THEN {col} END)"
            elif kind == "string":
                add(f"count_if(trim({col}) = '')", "invalid")
                continue
            add(f"min({value})", "min")
            add(f"max({value})", "max")
            if kind in NUMERIC_KINDS:
                number = f"CAST({value} AS DOUBLE)"
                add(f"avg({number})", "mean")
                add(f"stddev_samp({number})", "std")
                add(f"skewness({number})", "skew")  # bias-corrected, as pandas' skew
        row = self.con.execute(f"SELECT {', '.join(exprs)} FROM {self.source}").fetchall()[0]
        out: dict[str, Any] = {"rows": row[0]}
        for field in self.fields:
            out[field.name] = {}
        for (name, key), value in zip(keys[1:], row[1:], strict=True):
            out[name][key] = _plain(value)
        if id_column is not None:
            # Its own GROUP BY, which can spill to disk: a DISTINCT aggregate inside the wide
            # pass ran out of memory on 50M ids under the 2 GB limit.
            # (Without union_by_name: with it, the scan kept 50M ids in memory and failed too.)
            col = _q(id_column)
            out[id_column]["distinct_exact"] = self.con.execute(
                f"SELECT count(*) FROM (SELECT {col} FROM read_parquet({self._file_list()}) "
                f"WHERE {col} IS NOT NULL GROUP BY {col})"
            ).fetchall()[0][0]
        return out

    def category_sets(self, columns: list[str]) -> dict[str, list[str]]:
        if not columns:
            return {}
        exprs = ", ".join(f"list(DISTINCT CAST({_q(c)} AS VARCHAR))" for c in columns)
        row = self.con.execute(f"SELECT {exprs} FROM {self.source}").fetchall()[0]
        # Spark spells booleans "true"/"false" in its string cast, DuckDB too.
        return {
            c: sorted(v for v in values if v is not None)
            for c, values in zip(columns, row, strict=True)
        }

    def value_shares(self, column: str, rows: int, limit: int = 100) -> dict[str, float]:
        col = _q(column)
        result = self.con.execute(
            f"SELECT CAST({col} AS VARCHAR), count(*) AS n FROM {self.source} "
            f"GROUP BY 1 ORDER BY n DESC LIMIT {int(limit)}"
        ).fetchall()
        return {("null" if v is None else v): round(n / rows, 6) for v, n in result}

    def _select(self) -> str:
        return ", ".join(_q(f.name) for f in self.fields)

    def random_sample(self, fraction: float, rows: int | None, seed: int) -> pd.DataFrame:
        """Bernoulli by a seeded hash of each row's file (its index in the file list) and
        position: the same rows for the same seed and files whatever the thread count
        (DuckDB's own REPEATABLE sampling is only reproducible single-threaded). With `rows`,
        the n smallest hashes of a slightly larger Bernoulli sample: exactly n rows."""
        keep = min(1.0, fraction * (1.1 if rows else 1.0))
        # file_index, not filename: hashing a path string per row doubled the sample's time.
        key = f"hash(file_index, file_row_number, {int(seed)})"
        threshold = int(keep * 2**64) - 1
        source = f"read_parquet({self._file_list()}, union_by_name = true, file_row_number = true)"
        sql = (
            f"SELECT {self._select()} FROM {source} WHERE {key} <= {threshold}::UBIGINT "
            f"ORDER BY {key}"
        )
        if rows:
            sql += f" LIMIT {int(rows)}"
        return self._frame(sql)

    def to_pandas(self) -> pd.DataFrame:
        return self._frame(f"SELECT {self._select()} FROM {self.source}")

    def _frame(self, sql: str) -> pd.DataFrame:
        """As Spark's Arrow `toPandas` gives it: dates as `datetime.date`, timestamps in ns."""
        frame = self.con.sql(sql).to_arrow_table().to_pandas(date_as_object=True)
        for name in frame.columns:
            if pd.api.types.is_datetime64_any_dtype(frame[name]):
                series = frame[name]
                if getattr(series.dt, "tz", None) is not None:
                    series = series.dt.tz_convert("UTC").dt.tz_localize(None)
                frame[name] = series.astype("datetime64[ns]")
        return frame


def _plain(value: Any) -> Any:
    """DuckDB results as Spark's: naive UTC datetimes."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def table_scan(df: DataFrame, files: list[str] | None = None) -> TableScan:
    """DuckDB over `files` when `df` reads exactly them unchanged and they are local, else Spark.

    `files` is the caller's promise that `df` is a plain read of those Parquet files (as
    `lake.delta.read_spark` does); the columns are still checked, and anything DuckDB cannot
    read falls back to Spark.
    """
    fields = df.schema.fields
    if files:
        paths = [_local_path(f) for f in files]
        if all(p is not None and os.path.exists(p) for p in paths):
            try:
                scan = DuckDBScan([p for p in paths if p is not None], fields)
                if {f.name for f in fields} <= scan.columns():
                    return scan
            except Exception:  # an unreadable file or type: Spark reads it (or says why)
                pass
    return SparkScan(df)
