"""Batch scoring on Spark: an in-process (sklearn) model runs inside `mapInPandas`, a Spark
MLlib PipelineModel through `transform`; either way the batch is never collected to the
driver and scales with the cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from aurora_pipelines.errors import SourceError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SCORE_COLUMNS = ["score", "prediction", "model_name", "model_version", "scored_at"]


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
) -> DataFrame:
    """Score every row of `df`; returns id, score, prediction and the model that scored it."""
    from pyspark.sql.types import (
        DoubleType,
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    missing = [c for c in [id_column, *feature_columns] if c not in df.columns]
    if missing:
        raise SourceError(
            f"scoring batch lacks columns the model needs: {', '.join(missing)}; "
            "rebuild the scoring features with the same dbt model as training"
        )
    schema = StructType(
        [
            StructField(id_column, StringType()),
            StructField("score", DoubleType()),
            StructField("prediction", DoubleType() if problem_type == "regression" else LongType()),
            StructField("model_name", StringType()),
            StructField("model_version", StringType()),
            StructField("scored_at", TimestampType()),
        ]
    )
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
            out["scored_at"] = scored_at
            yield out

    return df.select(id_column, *feature_columns).mapInPandas(_score, schema)


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
) -> DataFrame:
    """`PipelineModel.transform` on the batch: the positive-class probability is the score,
    the registered decision threshold turns it into the prediction (regression: the value)."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F

    predicted = model.transform(df.select(id_column, *feature_columns))
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
        F.lit(scored_at).cast("timestamp").alias("scored_at"),
    ).select(*[field.name for field in schema.fields])


def model_input_columns(tracking_uri: str, model_name: str, version: str) -> list[str]:
    """The input columns of a registered version, from its MLflow signature."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    info = mlflow.models.get_model_info(f"models:/{model_name}/{version}")
    if info.signature is None:
        raise SourceError(f"model {model_name} v{version} has no signature; re-register it")
    return info.signature.inputs.input_names()
