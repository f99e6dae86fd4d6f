"""Seeded row sampling of a Spark table into pandas, so distribution statistics stay bounded.

Only the sample crosses into the driver: the full table is never collected. Spark's
`DataFrame.sample(fraction, seed)` is a Bernoulli sample, so it returns about
`fraction * rows` rows (not exactly `sample_rows`), and the same seed on the same data and
partitioning returns the same rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from pydantic import BaseModel

from aurora_pipelines.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class SamplingInfo(BaseModel):
    """How the sample behind the distribution statistics was drawn."""

    method: str  # "bernoulli" (seeded random sample) or "full" (table smaller than the sample)
    seed: int
    requested_rows: int
    fraction: float
    rows: int
    table_rows: int


def sample_fraction(table_rows: int, sample_rows: int) -> float:
    """Fraction of rows to keep for a sample of about `sample_rows` rows (1.0 for small tables)."""
    if sample_rows <= 0:
        raise DataError(
            f"sample_rows must be positive, got {sample_rows}; "
            "set profiling.sample_rows to e.g. 20000"
        )
    if table_rows <= sample_rows:
        return 1.0
    return sample_rows / table_rows


def sample_to_pandas(
    df: DataFrame, *, table_rows: int, sample_rows: int, seed: int
) -> tuple[pd.DataFrame, SamplingInfo]:
    """A seeded random sample of ~`sample_rows` rows of `df` in pandas, and how it was drawn."""
    fraction = sample_fraction(table_rows, sample_rows)
    if fraction >= 1.0:
        sample, method = df.toPandas(), "full"
    else:
        sample, method = (
            df.sample(withReplacement=False, fraction=fraction, seed=seed).toPandas(),
            ("bernoulli"),
        )
    info = SamplingInfo(
        method=method,
        seed=seed,
        requested_rows=sample_rows,
        fraction=fraction,
        rows=len(sample),
        table_rows=table_rows,
    )
    return sample, info
