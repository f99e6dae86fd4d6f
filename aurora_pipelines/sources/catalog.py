"""Register the sample data as governed tables in the Spark catalog (database raw_sources)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aurora_pipelines.sources.sample_data import generate_credit_data

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SAMPLE_DATABASE = "raw_sources"
SAMPLE_TABLE = f"{SAMPLE_DATABASE}.credit_applications"
SAMPLE_BATCH_TABLE = f"{SAMPLE_DATABASE}.credit_applications_new_batch"


@dataclass(frozen=True)
class SeededTable:
    table: str
    rows: int
    drift: bool


def seed_sample_tables(
    spark: SparkSession, rows: int = 100_000, batch_rows: int = 20_000, seed: int = 42
) -> list[SeededTable]:
    """(Re)create the training table and a drifted new batch, deterministically by seed."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {SAMPLE_DATABASE}")
    seeded = []
    for table, n, drift, table_seed in (
        (SAMPLE_TABLE, rows, False, seed),
        (SAMPLE_BATCH_TABLE, batch_rows, True, seed + 1),
    ):
        frame = generate_credit_data(n_rows=n, seed=table_seed, drift=drift)
        spark.createDataFrame(frame).write.mode("overwrite").format("parquet").saveAsTable(table)
        seeded.append(SeededTable(table=table, rows=n, drift=drift))
    return seeded
