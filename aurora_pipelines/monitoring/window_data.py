"""The rows of one daily window, on Spark: batch scores and the prediction log of that day.

- batch scores (`serve/batch_scores`): the day's rows — the `date` partition (or column) when
  the table has one, else the rows scored that day (`scored_at`) — of the champion only;
- the prediction log (`serve/prediction_log`, partitioned by `date`): served, successful
  answers of that day.
Every window row carries the entity id as text (`ID`), the `score` and, for classifiers whose
scores have them, the per-class probabilities (`CLASS_PROBABILITIES`, map<string,double>).
`window_scores` is that alone (the performance window joins it to labels); `window_data` adds
the features (the drift window): batch rows joined back to the scoring features by id, since
the scores table holds no features, logged rows with their `inputs` JSON parsed with
`from_json` against the features' Spark schema. Nothing is collected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aurora_pipelines.lake import delta

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

DATE_COLUMN = "date"
ID = "__id"
CLASS_PROBABILITIES = "class_probabilities"
LOG_ID_COLUMN = "entity_id"


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


def champion_scores(spark: SparkSession, scores_path: Path, day: str) -> DataFrame | None:
    """The day's batch scores of the champion (a challenger scores the same rows; the window's
    population is counted once)."""
    from pyspark.sql import functions as F

    scores = read_day(spark, scores_path, day)
    if scores is not None and "role" in scores.columns:
        scores = scores.where(F.col("role") == "champion")
    return scores


def served_predictions(spark: SparkSession, log_path: Path, day: str) -> DataFrame | None:
    """The day's served, successful answers of the prediction log."""
    from pyspark.sql import functions as F

    log = read_day(spark, log_path, day)
    if log is None:
        return None
    return log.where(F.col("served") & (F.col("status") == "ok"))


def _scored(df: DataFrame, id_column: str) -> list[Column]:
    """The id (as text), the score and the class probabilities when the rows have them."""
    from pyspark.sql import functions as F

    columns = [F.col(id_column).cast("string").alias(ID), F.col("score")]
    if CLASS_PROBABILITIES in df.columns:
        columns.append(F.col(CLASS_PROBABILITIES))
    return columns


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

    scores = champion_scores(spark, scores_path, day)
    if scores is None or not delta.is_delta_table(features_path):
        return None
    features = delta.read_spark(spark, features_path)
    keep = [c for c in columns if c != id_column]
    return scores.select(*_scored(scores, id_column)).join(
        features.select(F.col(id_column).cast("string").alias(ID), *keep), ID
    )


def log_window(
    spark: SparkSession, log_path: Path, features_schema, columns: list[str], day: str
) -> DataFrame | None:
    """The day's served predictions from the prediction log, inputs parsed from JSON."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructType

    served = served_predictions(spark, log_path, day)
    if served is None:
        return None
    schema = StructType([f for f in features_schema.fields if f.name in columns])
    parsed = served.select(
        F.from_json("inputs", schema).alias("i"), *_scored(served, LOG_ID_COLUMN)
    )
    return parsed.select(
        *[F.col(f"i.{c}").alias(c) for c in schema.names],
        *[c for c in parsed.columns if c != "i"],
    )


def _union(parts: list[tuple[str, DataFrame]]) -> WindowData:
    # A source with no rows that day is not a source of the window.
    parts = [(name, df) for name, df in parts if not df.isEmpty()]
    if not parts:
        return WindowData(frame=None)
    frame = parts[0][1]
    for _, other in parts[1:]:
        frame = frame.unionByName(other, allowMissingColumns=True)
    return WindowData(frame=frame, sources=[name for name, _ in parts])


def window_scores(
    spark: SparkSession, *, scores_path: Path, log_path: Path, id_column: str | None, day: str
) -> WindowData:
    """Batch scores and logged predictions of `day`: id, score (and class probabilities)."""
    parts: list[tuple[str, DataFrame]] = []
    batch = champion_scores(spark, scores_path, day) if id_column else None
    if batch is not None:
        parts.append(("batch_scores", batch.select(*_scored(batch, id_column))))
    served = served_predictions(spark, log_path, day)
    if served is not None:
        parts.append(("prediction_log", served.select(*_scored(served, LOG_ID_COLUMN))))
    return _union(parts)


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
    """Batch scores and logged predictions of `day` with their features: the drift window."""
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
    return _union(parts)
