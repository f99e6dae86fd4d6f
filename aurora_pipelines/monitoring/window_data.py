"""The rows of one daily window, on Spark: batch scores and the prediction log of that day.

- batch scores (`serve/batch_scores`): the day's rows — the `date` partition (or column) when
  the table has one, else the rows scored that day (`scored_at`) — joined back to the scoring
  features by the experiment's id column, since the scores table holds no features;
- the prediction log (`serve/prediction_log`, partitioned by `date`): served, successful
  answers of that day, their `inputs` JSON parsed with `from_json` against the features'
  Spark schema.
Both become one DataFrame of feature columns plus `score`; nothing is collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aurora_pipelines.lake import delta

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DATE_COLUMN = "date"


@dataclass
class WindowData:
    frame: DataFrame | None
    sources: list[str] = field(default_factory=list)


def _partition_columns(path: Path) -> list[str]:
    from deltalake import DeltaTable

    return list(DeltaTable(str(path)).metadata().partition_columns)


def read_day(spark: SparkSession, path: Path, day: str) -> DataFrame | None:
    """A Delta table's rows of one day: its `date` partition, `date` column or `scored_at` day."""
    from pyspark.sql import functions as F

    if not delta.is_delta_table(path):
        return None
    if DATE_COLUMN in _partition_columns(path):
        from deltalake import DeltaTable

        files = DeltaTable(str(path)).file_uris(partition_filters=[(DATE_COLUMN, "=", day)])
        if not files:
            return None
        # Partition values live in the paths, not the files: add the day back as a column.
        return spark.read.parquet(*files).withColumn(DATE_COLUMN, F.lit(day))
    df = delta.read_spark(spark, path)
    if DATE_COLUMN in df.columns:
        return df.where(F.col(DATE_COLUMN).cast("string") == day)
    if "scored_at" in df.columns:
        return df.where(F.to_date("scored_at").cast("string") == day)
    return df


def batch_window(
    spark: SparkSession,
    scores_path: Path,
    features_path: Path,
    id_column: str,
    columns: list[str],
    day: str,
) -> DataFrame | None:
    """The day's batch scores with their features (joined by id)."""
    from pyspark.sql import functions as F

    scores = read_day(spark, scores_path, day)
    if scores is None or not delta.is_delta_table(features_path):
        return None
    if "role" in scores.columns:
        # A challenger scores the same rows; the window's population is counted once.
        scores = scores.where(F.col("role") == "champion")
    features = delta.read_spark(spark, features_path)
    keep = [c for c in columns if c != id_column]
    joined = scores.select(F.col(id_column).cast("string").alias("__id"), "score").join(
        features.select(F.col(id_column).cast("string").alias("__id"), *keep), "__id"
    )
    return joined.select(*keep, "score")


def log_window(
    spark: SparkSession, log_path: Path, features_schema, columns: list[str], day: str
) -> DataFrame | None:
    """The day's served predictions from the prediction log, inputs parsed from JSON."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    log = read_day(spark, log_path, day)
    if log is None:
        return None
    schema = StructType([f for f in features_schema.fields if f.name in columns])
    parsed = log.where(F.col("served") & (F.col("status") == "ok")).select(
        F.from_json("inputs", schema).alias("i"), F.col("score")
    )
    return parsed.select(*[F.col(f"i.{c}").alias(c) for c in schema.names], "score")


def window_data(
    spark: SparkSession,
    *,
    scores_path: Path,
    features_path: Path,
    log_path: Path,
    id_column: str | None,
    columns: list[str],
    day: str,
) -> WindowData:
    """Batch scores and logged predictions of `day`, as one frame of features + score."""
    parts: list[tuple[str, DataFrame]] = []
    if id_column:
        batch = batch_window(spark, scores_path, features_path, id_column, columns, day)
        if batch is not None:
            parts.append(("batch_scores", batch))
    if delta.is_delta_table(features_path):
        schema = delta.read_spark(spark, features_path).schema
        logged = log_window(spark, log_path, schema, columns, day)
        if logged is not None:
            parts.append(("prediction_log", logged))
    # A source with no rows that day is not a source of the window.
    parts = [(name, df) for name, df in parts if not df.isEmpty()]
    if not parts:
        return WindowData(frame=None)
    frame = parts[0][1]
    for _, other in parts[1:]:
        frame = frame.unionByName(other, allowMissingColumns=True)
    return WindowData(frame=frame, sources=[name for name, _ in parts])
