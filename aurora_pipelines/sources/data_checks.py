"""Checks a source's rows must pass before they are committed to the lake.

Each refusal names the spec field at fault and the fix. The row-level checks run as one Spark
aggregation (one pass over the data), before `ingest_source` writes anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aurora_pipelines.errors import DataError, SourceError
from aurora_pipelines.specs import SourceSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Wider tables make Spark's planner, the profile and Delta's schema handling crawl; a model
# needs a selection of features, not every column of a warehouse extract.
MAX_COLUMNS = 4096
# Roles whose column must hold a value: a row without them cannot be trained on or joined.
VALUED_ROLES = ("target", "id_column", "time_column")


def check_width(df: DataFrame, source: SourceSpec) -> None:
    """SourceError when the source has more columns than Aurora ingests."""
    width = len(df.columns)
    if width > MAX_COLUMNS:
        raise SourceError(
            f"source {source.display} has {width} columns, more than the {MAX_COLUMNS} Aurora "
            "ingests; select the columns you need with a `kind: query` source (`source.sql`) "
            "or a narrower file"
        )


def check_rows(df: DataFrame, columns: dict[str, str], source: SourceSpec) -> int:
    """The source's row count, after refusing (DataError) an empty source, a role column that
    is null in every row, an `id_column` that is not unique, or a string `time_column` with
    values that do not parse as timestamps."""
    from pyspark.sql import functions as F

    roles = {role: column for role, column in columns.items() if column}
    types = dict(df.dtypes)
    aggregates = [F.count(F.lit(1)).alias("rows")]
    for role, column in roles.items():
        aggregates.append(F.count(F.col(f"`{column}`")).alias(f"{role}__values"))
    if "id_column" in roles:
        aggregates.append(F.count_distinct(F.col(f"`{roles['id_column']}`")).alias("id__distinct"))
    time_column = roles.get("time_column")
    parse_time = time_column is not None and types.get(time_column) == "string"
    if parse_time:
        text = F.col(f"`{time_column}`")
        bad = text.isNotNull() & F.try_to_timestamp(text).isNull()
        aggregates.append(F.sum(bad.cast("long")).alias("time__bad"))
        aggregates.append(F.min(F.when(bad, text)).alias("time__example"))
    counts = df.agg(*aggregates).first()
    assert counts is not None  # a global aggregation always returns one row
    rows = int(counts["rows"])
    if rows == 0:
        raise DataError(
            f"source {source.display} has no rows; point `source` at a table or file with "
            "data, or load the data first"
        )
    for role, column in roles.items():
        if counts[f"{role}__values"] == 0:
            raise DataError(
                f"{role} column '{column}' of source {source.display} is null in every row "
                f"({rows} rows); fix the spec's `{role}` or the data"
            )
    if "id_column" in roles and counts["id__distinct"] < counts["id_column__values"]:
        duplicated = counts["id_column__values"] - counts["id__distinct"]
        raise DataError(
            f"id_column '{roles['id_column']}' of source {source.display} is not unique "
            f"({duplicated} repeated value(s)); fix the spec's `id_column` (a column that "
            "identifies each row) or remove the duplicate rows"
        )
    if parse_time and counts["time__bad"]:
        raise DataError(
            f"time_column '{time_column}' of source {source.display} has {counts['time__bad']} "
            f"value(s) that do not parse as a timestamp (e.g. '{counts['time__example']}'); "
            "fix the spec's `time_column` or write the values as ISO 8601 (2026-01-31 12:00:00)"
        )
    return rows
