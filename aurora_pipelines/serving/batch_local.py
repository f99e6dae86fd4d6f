"""Batch scoring in this process, for a small local table under a local Spark master.

On a 2-core laptop Spark's fixed costs (a JVM start, the first job's class loading, the
parquet scan and the Arrow exchange with Python workers) outweigh the scoring itself: the
model's numpy fast path takes ~0.4 s of CPU per million rows. So, as drift's reference does
(`monitoring/reference.py`, LOCAL_REFERENCE_MAX_ROWS), a local scoring-features table of at
most LOCAL_SCORING_MAX_ROWS rows is read with pyarrow (only the columns scoring needs), scored
by the same per-batch answerer the Spark workers run (`batch_worker.Answers`) and written with
the same delta-rs partition replace. A cluster master, a remote or partitioned table, a Spark
MLlib model or a time column that is not a date/timestamp keep Spark (serving/batch.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from aurora_pipelines.serving.batch import (
    CLASS_PROBABILITIES,
    PARTITION_COLUMN,
    ScoringModel,
    answers_for,
    check_time_column,
    day_string,
    is_spark_model,
    scores_target,
)

if TYPE_CHECKING:
    from aurora_pipelines.registry.model_version import ModelVersion
    from aurora_pipelines.serving.batch import ScoresTarget

# ~30 columns x 3M rows fit a laptop's memory as Arrow; larger tables stay on Spark.
LOCAL_SCORING_MAX_ROWS = 3_000_000
_BATCH_ROWS = 100_000  # as spark.sql.execution.arrow.maxRecordsPerBatch (lake/spark.py)


def local_engine_applies(
    features_path: str | Path,
    models: list[ScoringModel],
    *,
    spark_master: str,
    time_column: str | None,
) -> bool:
    """Whether the day's scoring runs in this process rather than on Spark (module docstring)."""
    from deltalake import DeltaTable

    from aurora_pipelines.lake import delta
    from aurora_pipelines.monitoring.reference import local_table_rows

    if not spark_master.startswith("local") or any(is_spark_model(m.model.model) for m in models):
        return False
    rows = local_table_rows(features_path)
    if rows is None or rows > LOCAL_SCORING_MAX_ROWS:
        return False
    if DeltaTable(str(features_path)).metadata().partition_columns:
        return False  # partition values live in directory names, not in the files
    schema = delta.arrow_schema(features_path)
    if time_column and time_column in schema.names:
        kind = schema.field(time_column).type
        if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
            return False  # a string time column: Spark's to_date parses it
    return True


def score_day_local(
    features_path: str | Path,
    models: list[ScoringModel],
    *,
    day: str,
    time_column: str | None,
    id_column: str,
    label_column: str | None = None,
) -> pa.Table:
    """Every model's scores for the day's rows, stacked, with the `date` partition column:
    the table `batch.score_day` gives on Spark, computed in this process."""
    import pyarrow.dataset as pds

    from aurora_pipelines.lake import delta
    from aurora_pipelines.serving.batch_worker import Scorer

    day = day_string(day)
    schema = delta.arrow_schema(features_path)
    if time_column:
        check_time_column(schema.names, time_column)
    if label_column and label_column not in schema.names:
        label_column = None  # scoring batches usually have no labels yet
    targets = [
        (
            m,
            scores_target(
                schema.names, m.model, id_column=id_column, role=m.role, label_column=label_column
            ),
        )  # fmt: skip
        for m in models
    ]
    needed = list(dict.fromkeys(c for m, t in targets for c in t.input_columns(m.model)))
    dataset = pds.dataset(delta.file_uris(features_path), format="parquet", schema=schema)
    rows = dataset.to_table(columns=needed, filter=_day_filter(time_column, day, schema))
    parts = []
    for model, target in targets:
        answers, _ = answers_for(model.model, target)
        scorer = Scorer(model.model.model)
        batches = [answers.answer(scorer, b) for b in rows.to_batches(max_chunksize=_BATCH_ROWS)]
        answered = pa.Table.from_batches(batches, schema=answers.schema)
        parts.append(_scores_table(answered, model.model, target, answers.proba_columns, day))
    return pa.concat_tables(parts)


def _scores_table(
    answered: pa.Table,
    version: ModelVersion,
    target: ScoresTarget,
    proba_columns: tuple[str, ...],
    day: str,
) -> pa.Table:
    """The answer columns as the scores schema: the class-probability map, the literals and
    the partition column, typed and ordered as Spark writes them (batch.score_day)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    n = answered.num_rows
    full = to_arrow_schema(target.schema, timezone="UTC")
    literals = target.literals(version)
    columns: dict[str, Any] = {}
    for field in full:
        if field.name == CLASS_PROBABILITIES:
            columns[field.name] = _probability_map(answered, version, proba_columns, field.type)
        elif field.name in literals:
            columns[field.name] = pa.repeat(literals[field.name], n).cast(field.type)
        else:
            columns[field.name] = answered.column(field.name).combine_chunks()
    columns[PARTITION_COLUMN] = pa.repeat(day, n)
    # Spark's literals and map_from_arrays are not nullable; a regressor's map is all null.
    not_null = {*literals, PARTITION_COLUMN} | ({CLASS_PROBABILITIES} if proba_columns else set())
    fields = [pa.field(name, array.type, name not in not_null) for name, array in columns.items()]
    return pa.Table.from_arrays(list(columns.values()), schema=pa.schema(fields))


def _probability_map(
    answered: pa.Table, version: ModelVersion, proba_columns: tuple[str, ...], kind: Any
) -> pa.Array:
    n, k = answered.num_rows, len(proba_columns)
    if not k:
        return pa.nulls(n, type=kind)
    matrix = np.column_stack([answered.column(c).to_numpy() for c in proba_columns])
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype="int32"))
    keys = pa.array(np.tile(np.asarray(version.class_keys, dtype=object), n), pa.string())
    return pa.MapArray.from_arrays(offsets, keys, pa.array(matrix.reshape(-1)), type=kind)


def _day_filter(time_column: str | None, day: str, schema: pa.Schema) -> Any:
    """The rows of UTC day `day` (Spark: `to_date(time_column) == day` in a UTC session)."""
    import datetime as dt

    import pyarrow.dataset as pds

    if not time_column:
        return None
    value = pds.field(time_column)
    kind = schema.field(time_column).type
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        value = value.cast(pa.timestamp(kind.unit, "UTC")).cast(pa.timestamp(kind.unit))
    return value.cast(pa.date32()) == pa.scalar(dt.date.fromisoformat(day), pa.date32())
