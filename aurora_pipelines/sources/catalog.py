"""Register the sample data as governed tables in the Spark catalog (database raw_sources)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aurora_pipelines.sources.sample_data import ID_COLUMN, TARGET, generate_credit_data

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SAMPLE_DATABASE = "raw_sources"
SAMPLE_TABLE = f"{SAMPLE_DATABASE}.credit_applications"
SAMPLE_BATCH_TABLE = f"{SAMPLE_DATABASE}.credit_applications_new_batch"
SAMPLE_LABELS_TABLE = f"{SAMPLE_DATABASE}.credit_applications_labels"


@dataclass(frozen=True)
class SeededTable:
    table: str
    rows: int
    drift: bool


def seed_sample_tables(
    spark: SparkSession,
    rows: int = 100_000,
    batch_rows: int = 20_000,
    seed: int = 42,
    batch_drift: bool = True,
) -> list[SeededTable]:
    """(Re)create the training table, a new batch (drifted unless `batch_drift=False`) and
    the batch's labels (which arrive later in real life), deterministically by seed."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {SAMPLE_DATABASE}")
    seeded = []
    for table, n, drift, table_seed in (
        (SAMPLE_TABLE, rows, False, seed),
        (SAMPLE_BATCH_TABLE, batch_rows, batch_drift, seed + 1),
    ):
        frame = generate_credit_data(n_rows=n, seed=table_seed, drift=drift)
        spark.createDataFrame(frame).write.mode("overwrite").format("parquet").saveAsTable(table)
        seeded.append(SeededTable(table=table, rows=n, drift=drift))
    seeded.append(_write_labels(spark, frame))
    return seeded


def _write_labels(spark: SparkSession, batch) -> SeededTable:
    labels = batch[[ID_COLUMN, TARGET]]
    spark.createDataFrame(labels).write.mode("overwrite").format("parquet").saveAsTable(
        SAMPLE_LABELS_TABLE
    )
    return SeededTable(table=SAMPLE_LABELS_TABLE, rows=len(labels), drift=False)


def inject_drift(
    spark: SparkSession, batch_rows: int = 20_000, seed: int = 1042, labelled_rows: int = 0
) -> list[SeededTable]:
    """A changed population arrives: the new batch (and its labels) become drifted, and
    `labelled_rows` drifted applications whose outcome is known join the training table —
    the new data a retraining learns from."""
    frame = generate_credit_data(n_rows=batch_rows, seed=seed, drift=True)
    spark.createDataFrame(frame).write.mode("overwrite").format("parquet").saveAsTable(
        SAMPLE_BATCH_TABLE
    )
    seeded = [SeededTable(SAMPLE_BATCH_TABLE, batch_rows, True), _write_labels(spark, frame)]
    if labelled_rows:
        known = generate_credit_data(n_rows=labelled_rows, seed=seed + 1, drift=True)
        spark.createDataFrame(known).write.mode("append").format("parquet").saveAsTable(
            SAMPLE_TABLE
        )
        seeded.append(SeededTable(SAMPLE_TABLE, labelled_rows, True))
    return seeded
