"""Batch scoring on Spark: an in-process (sklearn) model runs inside `mapInPandas`, a Spark
MLlib PipelineModel through `transform`; either way the scoring runs on the executors and
scales with the cluster.

Why `mapInPandas` and not `mlflow.pyfunc.spark_udf`: the version is loaded once on the driver
through the model-version handle (`registry/model_version.py`: digest-verified, skops trusted
types checked) and shipped to the executors; it yields the class probabilities, which the
version's registered decision threshold turns into a label (the registered pyfunc only
exposes `predict`, i.e. sklearn's fixed 0.5 cut); and it measured faster
(benchmarks/bench_batch_scoring.py).

The scores schema (one row per entity and scoring model; monitoring and the A/B comparison
read it):

| column                | type                | meaning                                         |
|-----------------------|---------------------|-------------------------------------------------|
| <id_column>           | string              | the entity id                                   |
| score                 | double              | regression: the value; binary: the positive     |
|                       |                     | class's probability; multiclass: the largest    |
|                       |                     | class probability (that of `prediction`)        |
| prediction            | double (regression) | the predicted value                             |
|                       | long (binary)       | 1 when score >= the version's threshold, else 0 |
|                       | string (multiclass) | the most probable class, as its class key       |
| class_probabilities   | map<string,double>  | every classifier: class key -> probability;     |
|                       |                     | null for regression                             |
| model_name, model_version, role | string    | who scored the row, as champion or challenger   |
| scored_at             | timestamp           | UTC, naive                                      |
| label                 | double, or string   | the batch's known outcome when it carries the   |
|                       | (multiclass)        | target; multiclass: its class key               |
| date                  | string              | the partition (UTC day)                         |

A class key is `str(class)` with integral floats written as integers (`class_key`). Why the
multiclass prediction is a string: class labels may be strings ('setosa'), and a string
column holds integer labels as well; it is the same key as in `class_probabilities` and in
`label`, so accuracy and champion/challenger agreement are plain equality. Binary and
regression keep the types they always had (tables written before stay valid; the new
`class_probabilities` column is merged into their schema on the next write).

Daily partitions (`score_day`): a partition scores the rows of the scoring features whose
`time_column` falls on that UTC day when the spec names one (`scoring.time_column`), else the
whole current snapshot of the scoring features (its Delta version is recorded with the run).
Scores land in Delta partitioned by `date`; a re-run replaces only its own day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from aurora_pipelines.errors import SourceError
from aurora_pipelines.registry.model_version import ModelVersion

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

CLASS_PROBABILITIES = "class_probabilities"
SCORE_COLUMNS = [
    "score",
    "prediction",
    CLASS_PROBABILITIES,
    "model_name",
    "model_version",
    "role",
    "scored_at",
]
PARTITION_COLUMN = "date"  # the UTC day `YYYY-MM-DD`, as in the prediction log
LABEL_COLUMN = "label"  # the scoring batch's known outcome, when it carries the target


def probability_matrix(values: Iterable[Any], keys: Sequence[str]) -> np.ndarray:
    """`class_probabilities` values (dicts, or the (key, probability) pairs a Delta read gives)
    as an n x len(keys) matrix in `keys` order; a class a row lacks is NaN."""
    rows = [dict(v) if v is not None else {} for v in values]
    matrix = np.array([[row.get(k, np.nan) for k in keys] for row in rows], dtype="float64")
    return matrix.reshape(len(rows), len(keys))


def is_multiclass_scores(scores: DataFrame) -> bool:
    """Whether a scores frame holds a multiclass version's rows (its prediction is a class key)."""
    return dict(scores.dtypes).get("prediction") == "string"


def scores_schema(version: ModelVersion, id_column: str, *, with_label: bool) -> Any:
    """The Spark schema of `version`'s scores (see the module docstring)."""
    from pyspark.sql.types import (
        DoubleType,
        LongType,
        MapType,
        StringType,
        StructField,
        StructType,
        TimestampType,
    )

    if not version.is_classifier:
        prediction, label = DoubleType(), DoubleType()
    elif version.is_multiclass:
        prediction, label = StringType(), StringType()
    else:
        prediction, label = LongType(), DoubleType()
    fields = [
        StructField(id_column, StringType()),
        StructField("score", DoubleType()),
        StructField("prediction", prediction),
        StructField(CLASS_PROBABILITIES, MapType(StringType(), DoubleType())),
        StructField("model_name", StringType()),
        StructField("model_version", StringType()),
        StructField("role", StringType()),
        StructField("scored_at", TimestampType()),
    ]
    if with_label:
        fields.append(StructField(LABEL_COLUMN, label))
    return StructType(fields)


def score_batch(
    df: DataFrame,
    version: ModelVersion,
    *,
    id_column: str,
    role: str = "champion",
    label_column: str | None = None,
) -> DataFrame:
    """Score every row of `df` with `version` on its own input columns; returns the scores
    schema (module docstring), with `label` when `label_column` is given."""
    target = scores_target(df.columns, version, id_column=id_column, role=role,
                           label_column=label_column)  # fmt: skip
    score = _score_with_spark_model if is_spark_model(version.model) else _score_in_process
    return score(df.select(*target.input_columns(version)), version, target)


def scores_target(
    columns: Sequence[str],
    version: ModelVersion,
    *,
    id_column: str,
    role: str,
    label_column: str | None,
) -> ScoresTarget:
    """What `version`'s scores of a batch with `columns` look like; a batch lacking a column
    the model needs is a SourceError naming it."""
    carried = [label_column] if label_column else []
    needed = [id_column, *version.input_columns, *carried]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise SourceError(
            f"scoring batch lacks columns the model needs: {', '.join(missing)}; "
            "rebuild the scoring features with the same dbt model as training"
        )
    return ScoresTarget(
        id_column=id_column,
        schema=scores_schema(version, id_column, with_label=bool(label_column)),
        scored_at=datetime.now(UTC).replace(tzinfo=None),
        role=role,
        label_column=label_column,
    )


@dataclass(frozen=True)
class ScoresTarget:
    """What both scoring paths write besides the model's answers: the scores schema and the
    values stamped on every row."""

    id_column: str
    schema: Any  # pyspark StructType (scores_schema)
    scored_at: datetime
    role: str
    label_column: str | None

    def input_columns(self, version: ModelVersion) -> list[str]:
        """The batch columns scoring reads: the id, the model's inputs, the carried label."""
        carried = [self.label_column] if self.label_column else []
        return [self.id_column, *version.input_columns, *carried]

    def literals(self, version: ModelVersion) -> dict[str, str]:
        """The columns every row of `version`'s scores carries with one value."""
        return {"model_name": version.name, "model_version": version.version, "role": self.role}


def _score_in_process(rows: DataFrame, version: ModelVersion, target: ScoresTarget) -> DataFrame:
    """The in-process model inside `mapInArrow`: Arrow batches in, Arrow batches out, no pandas
    frame on Aurora's fast path (serving/batch_worker.py). The model goes to the executors once
    as a broadcast and is loaded once per Python worker. Class probabilities leave the worker
    as plain double columns and become the map on Spark; the model name, version and role are
    Spark literals: no Python object per row."""
    import uuid

    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, MapType, StringType

    from aurora_pipelines.serving.batch_worker import scorer, ship

    # A fresh key per scoring: a long-lived worker never answers with another model's cache.
    key = f"{version.name}/{version.version}/{version.digest}/{uuid.uuid4().hex}"
    shipment = ship(rows.sparkSession, key, version.model)
    answers, inner = answers_for(version, target)

    def _score(batches):
        model = scorer(shipment)
        for batch in batches:
            yield answers.answer(model, batch)

    scored = rows.mapInArrow(_score, inner)
    keys, proba_columns = list(version.class_keys), answers.proba_columns
    if proba_columns:
        probabilities = F.map_from_arrays(
            F.array(*[F.lit(k) for k in keys]), F.array(*[F.col(c) for c in proba_columns])
        )
    else:
        probabilities = F.lit(None).cast(MapType(StringType(), DoubleType()))
    columns = {
        CLASS_PROBABILITIES: probabilities,
        **{name: F.lit(value) for name, value in target.literals(version).items()},
    }
    return scored.select(
        *[columns.get(f.name, F.col(f.name)).alias(f.name) for f in target.schema.fields]
    )


def answers_for(version: ModelVersion, target: ScoresTarget) -> tuple[Any, Any]:
    """The worker-side answerer of `version` (without its model, which travels apart) and the
    Spark schema of its answer columns (the scores schema less the map and the literals, plus
    one double per class probability)."""
    import dataclasses

    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import DoubleType, StructField, StructType

    from aurora_pipelines.serving.batch_worker import Answers

    proba_columns = tuple(f"__p{i}" for i in range(len(version.class_keys)))
    apart = {CLASS_PROBABILITIES, *target.literals(version)}
    fields = [f for f in target.schema.fields if f.name not in apart]
    inner = StructType(fields + [StructField(c, DoubleType()) for c in proba_columns])
    answers = Answers(
        version=dataclasses.replace(version, model=None, signature=None),
        id_column=target.id_column,
        label_column=target.label_column,
        scored_at=np.datetime64(target.scored_at, "us"),
        # Arrow timestamps are UTC instants; scored_at is naive UTC (the session runs in UTC).
        schema=to_arrow_schema(inner, timezone="UTC"),
        proba_columns=proba_columns,
    )
    return answers, inner


def is_spark_model(model: Any) -> bool:
    """A Spark MLlib PipelineModel (the `spark` flavour) rather than an in-process model."""
    return type(model).__module__.startswith("pyspark.ml")


def _score_with_spark_model(
    rows: DataFrame, version: ModelVersion, target: ScoresTarget
) -> DataFrame:
    """`PipelineModel.transform` on the batch, with the same score, prediction and class
    probabilities as the in-process path (regression: the value)."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, MapType, StringType

    id_column, label_column = target.id_column, target.label_column
    predicted = version.model.transform(rows)
    if not version.is_classifier:
        score = F.col("prediction").cast("double")
        prediction = score
        probabilities = F.lit(None).cast(MapType(StringType(), DoubleType()))
    else:
        proba = vector_to_array(F.col("probability"))
        keys = F.array(*[F.lit(k) for k in version.class_keys])
        probabilities = F.map_from_arrays(keys, proba)
        if version.is_multiclass:
            score = F.array_max(proba)
            # array_position is 1-based, as element_at: the first class with the top score.
            prediction = F.element_at(keys, F.array_position(proba, score).cast("int"))
        else:
            score = proba[1].cast("double")
            prediction = (score >= F.lit(version.decision_threshold)).cast("long")
    label = [_spark_label(rows, label_column, version.is_multiclass)] if label_column else []
    return predicted.select(
        F.col(id_column).cast("string").alias(id_column),
        score.alias("score"),
        prediction.alias("prediction"),
        probabilities.alias(CLASS_PROBABILITIES),
        F.lit(version.name).alias("model_name"),
        F.lit(version.version).alias("model_version"),
        F.lit(target.role).alias("role"),
        F.lit(target.scored_at).cast("timestamp").alias("scored_at"),
        *label,
    ).select(*[field.name for field in target.schema.fields])


def _spark_label(rows: DataFrame, column: str, multiclass: bool) -> Any:
    """The `label` column on Spark: a double, or for multiclass the class key `class_key`
    would give (integral doubles as integers, booleans as Python writes them)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, DecimalType, DoubleType, FloatType

    value = F.col(column)
    if not multiclass:
        return value.cast("double").alias(LABEL_COLUMN)
    kind = rows.schema[column].dataType
    if isinstance(kind, FloatType | DoubleType | DecimalType):
        key = F.when(value == F.floor(value), value.cast("long").cast("string"))
        key = key.otherwise(value.cast("string"))
    elif isinstance(kind, BooleanType):
        key = F.when(value, F.lit("True")).when(~value, F.lit("False"))
    else:
        key = value.cast("string")
    return key.alias(LABEL_COLUMN)


@dataclass(frozen=True)
class ScoringModel:
    """One registered version taking part in a day's scoring, in its routing role."""

    role: str  # champion | challenger (deploy/routing.py)
    model: ModelVersion

    @property
    def version(self) -> str:
        return self.model.version


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
    check_time_column(df.columns, time_column)
    # The session runs in UTC (lake/spark.py), so to_date of a timestamp is its UTC day.
    return df.where(F.to_date(F.col(time_column)) == F.lit(day_string(day)).cast("date"))


def check_time_column(columns: Sequence[str], time_column: str) -> None:
    """A time column the scoring features lack is a SourceError naming the fix."""
    if time_column not in columns:
        raise SourceError(
            f"scoring.time_column {time_column!r} is not a column of the scoring features "
            f"({', '.join(columns)}); fix the spec or add it to the scoring dbt model"
        )


def score_day(
    batch: DataFrame,
    models: list[ScoringModel],
    *,
    day: str,
    time_column: str | None,
    id_column: str,
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
        score_batch(rows, m.model, id_column=id_column, role=m.role, label_column=label_column)
        for m in models
    ]
    stacked = reduce(lambda a, b: a.unionByName(b), scored)
    return stacked.withColumn(PARTITION_COLUMN, F.lit(day))


def write_day(
    scored: DataFrame, path: str, day: str, commit_info: dict[str, str] | None = None
) -> int:
    """Replace day `day` of the scores table with `scored` (idempotent per day).

    Spark's executors write the day's parquet files into the table's `date=<day>/` folder and
    this process commits them with delta-rs add actions (lake/delta.py): the rows are never
    collected to the driver, whose memory and `spark.driver.maxResultSize` would bound a day.
    A table not on a local path (s3://) goes through Arrow on the driver (its folder is not
    this process's to list).
    """
    from aurora_pipelines.lake import delta

    day = day_string(day)
    files = []
    if "://" not in path:
        folder = Path(path) / f"{PARTITION_COLUMN}={day}"
        files = _write_parquet(scored.drop(PARTITION_COLUMN), folder)
    if files:
        return delta.commit_partition_files(
            path, files, column=PARTITION_COLUMN, value=day, commit_info=commit_info
        )
    # A remote table, or a day without rows (Spark may then write no file at all).
    return delta.write_partition(
        path, scored.toArrow(), column=PARTITION_COLUMN, value=day, commit_info=commit_info
    )


def _write_parquet(rows: DataFrame, folder: Path) -> list[Path]:
    """Parquet files of `rows` written by Spark into `folder`, under names no other writer
    uses; returns them. Spark stages them in a hidden subfolder (its committer's _SUCCESS and
    checksum files stay there) from which they move up once the job succeeded."""
    import shutil
    import uuid

    staging = folder / f".aurora-staging-{uuid.uuid4().hex}"
    spark = rows.sparkSession
    # Delta's timestamp is microseconds; Spark's default INT96 is a legacy encoding.
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    try:
        # A plain path: Hadoop would keep the %3D of a file: URI of `date=...` literally.
        rows.write.mode("errorifexists").parquet(str(staging.absolute()))
        files = []
        for staged in sorted(staging.glob("part-*.parquet")):
            files.append(staged.rename(folder / staged.name))
        return files
    finally:
        shutil.rmtree(staging, ignore_errors=True)
