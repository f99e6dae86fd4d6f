"""Batch scoring on Spark: an in-process (sklearn) model runs inside `mapInPandas`, a Spark
MLlib PipelineModel through `transform`; either way the scoring runs on the executors and
scales with the cluster.

Why `mapInPandas` and not `mlflow.pyfunc.spark_udf`: the model is loaded once on the driver
through `registry.load_model` (digest-verified, skops trusted types checked) and shipped to
the executors; it yields the positive-class probability, which the version's registered
decision threshold turns into a label (the registered pyfunc only exposes `predict`, i.e.
sklearn's fixed 0.5 cut); and it measured faster (benchmarks/bench_batch_scoring.py).

Daily partitions (`score_day`): a partition scores the rows of the scoring features whose
`time_column` falls on that UTC day when the spec names one (`scoring.time_column`), else the
whole current snapshot of the scoring features (its Delta version is recorded with the run).
Scores land in Delta partitioned by `date`; a re-run replaces only its own day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from aurora_pipelines.errors import SourceError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SCORE_COLUMNS = ["score", "prediction", "model_name", "model_version", "role", "scored_at"]
PARTITION_COLUMN = "date"  # the UTC day `YYYY-MM-DD`, as in the prediction log
LABEL_COLUMN = "label"  # the scoring batch's known outcome, when it carries the target


def score_batch(
    df: DataFrame,
    model: Any,
    *,
    feature_columns: list[str],
    id_column: str,
    model_name: str,
    model_version: str,
    problem_type: str,
    threshold: float = 0.5,
    role: str = "champion",
    label_column: str | None = None,
) -> DataFrame:
    """Score every row of `df`; returns id, score, prediction, the model that scored it and
    its role (champion/challenger), plus `label` when `label_column` is given."""
    from pyspark.sql.types import (
        DoubleType,
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    carried = [label_column] if label_column else []
    missing = [c for c in [id_column, *feature_columns, *carried] if c not in df.columns]
    if missing:
        raise SourceError(
            f"scoring batch lacks columns the model needs: {', '.join(missing)}; "
            "rebuild the scoring features with the same dbt model as training"
        )
    regression = problem_type == "regression"
    fields = [
        StructField(id_column, StringType()),
        StructField("score", DoubleType()),
        StructField("prediction", DoubleType() if regression else LongType()),
        StructField("model_name", StringType()),
        StructField("model_version", StringType()),
        StructField("role", StringType()),
        StructField("scored_at", TimestampType()),
    ]
    if label_column:
        fields.append(StructField(LABEL_COLUMN, DoubleType()))
    schema = StructType(fields)
    scored_at = datetime.now(UTC).replace(tzinfo=None)
    if is_spark_model(model):
        return _score_with_spark_model(
            df,
            model,
            feature_columns=feature_columns,
            id_column=id_column,
            model_name=model_name,
            model_version=model_version,
            problem_type=problem_type,
            threshold=threshold,
            schema=schema,
            scored_at=scored_at,
            role=role,
            label_column=label_column,
        )

    def _score(batches):
        for batch in batches:
            features = batch[feature_columns]
            out = pd.DataFrame({id_column: batch[id_column].astype(str)})
            if problem_type == "regression":
                out["score"] = model.predict(features).astype("float64")
                out["prediction"] = out["score"]
            else:
                out["score"] = model.predict_proba(features)[:, 1].astype("float64")
                out["prediction"] = (out["score"] >= threshold).astype("int64")
            out["model_name"] = model_name
            out["model_version"] = str(model_version)
            out["role"] = role
            out["scored_at"] = scored_at
            if label_column:
                out[LABEL_COLUMN] = pd.to_numeric(batch[label_column]).astype("float64")
            yield out

    return df.select(id_column, *feature_columns, *carried).mapInPandas(_score, schema)


def is_spark_model(model: Any) -> bool:
    """A Spark MLlib PipelineModel (the `spark` flavour) rather than an in-process model."""
    return type(model).__module__.startswith("pyspark.ml")


def _score_with_spark_model(
    df: DataFrame,
    model: Any,
    *,
    feature_columns: list[str],
    id_column: str,
    model_name: str,
    model_version: str,
    problem_type: str,
    threshold: float,
    schema: Any,
    scored_at: datetime,
    role: str,
    label_column: str | None,
) -> DataFrame:
    """`PipelineModel.transform` on the batch: the positive-class probability is the score,
    the registered decision threshold turns it into the prediction (regression: the value)."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    carried = [label_column] if label_column else []
    predicted = model.transform(df.select(id_column, *feature_columns, *carried))
    if problem_type == "regression":
        score = F.col("prediction").cast("double")
        prediction = score
    else:
        score = vector_to_array(F.col("probability"))[1].cast("double")
        prediction = (score >= F.lit(float(threshold))).cast("long")
    return predicted.select(
        F.col(id_column).cast("string").alias(id_column),
        score.alias("score"),
        prediction.alias("prediction"),
        F.lit(model_name).alias("model_name"),
        F.lit(str(model_version)).alias("model_version"),
        F.lit(role).alias("role"),
        F.lit(scored_at).cast("timestamp").alias("scored_at"),
        *[F.col(c).cast("double").alias(LABEL_COLUMN) for c in carried],
    ).select(*[field.name for field in schema.fields])


def model_input_columns(tracking_uri: str, model_name: str, version: str) -> list[str]:
    """The input columns of a registered version, from its MLflow signature."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    info = mlflow.models.get_model_info(f"models:/{model_name}/{version}")
    if info.signature is None:
        raise SourceError(f"model {model_name} v{version} has no signature; re-register it")
    return info.signature.inputs.input_names()


@dataclass(frozen=True)
class ScoringModel:
    """One registered version taking part in a day's scoring, in its routing role."""

    role: str  # champion | challenger (deploy/routing.py)
    version: str
    model: Any
    threshold: float = 0.5
    # The version's own signature columns, when they differ from the shared default.
    feature_columns: tuple[str, ...] | None = None


def day_string(day: str | date) -> str:
    """A partition key as `YYYY-MM-DD`; anything else is a user error naming the format."""
    text = day.isoformat() if isinstance(day, date) else str(day)
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise SourceError(f"partition {text!r} is not a day; use YYYY-MM-DD") from exc


def partition_rows(df: DataFrame, day: str, time_column: str | None) -> DataFrame:
    """The rows daily partition `day` scores: those whose `time_column` falls on that UTC day,
    or, with no time column, the whole batch (a snapshot)."""
    from pyspark.sql import functions as F

    if not time_column:
        return df
    if time_column not in df.columns:
        raise SourceError(
            f"scoring.time_column {time_column!r} is not a column of the scoring features "
            f"({', '.join(df.columns)}); fix the spec or add it to the scoring dbt model"
        )
    # The session runs in UTC (lake/spark.py), so to_date of a timestamp is its UTC day.
    return df.where(F.to_date(F.col(time_column)) == F.lit(day_string(day)).cast("date"))


def score_day(
    batch: DataFrame,
    models: list[ScoringModel],
    *,
    day: str,
    time_column: str | None,
    feature_columns: list[str],
    id_column: str,
    model_name: str,
    problem_type: str,
    label_column: str | None = None,
) -> DataFrame:
    """Every model's scores for the day's rows, stacked, with the `date` partition column."""
    from functools import reduce

    from pyspark.sql import functions as F

    day = day_string(day)
    rows = partition_rows(batch, day, time_column)
    if label_column and label_column not in rows.columns:
        label_column = None  # scoring batches usually have no labels yet
    scored = [
        score_batch(
            rows,
            m.model,
            feature_columns=list(m.feature_columns or feature_columns),
            id_column=id_column,
            model_name=model_name,
            model_version=m.version,
            problem_type=problem_type,
            threshold=m.threshold,
            role=m.role,
            label_column=label_column,
        )
        for m in models
    ]
    stacked = reduce(lambda a, b: a.unionByName(b), scored)
    return stacked.withColumn(PARTITION_COLUMN, F.lit(day))


def write_day(
    scored: DataFrame, path: str, day: str, commit_info: dict[str, str] | None = None
) -> int:
    """Replace day `day` of the scores table with `scored` (idempotent per day)."""
    from aurora_pipelines.lake import delta

    return delta.write_partition(
        path,
        scored.toArrow(),
        column=PARTITION_COLUMN,
        value=day_string(day),
        commit_info=commit_info,
    )
