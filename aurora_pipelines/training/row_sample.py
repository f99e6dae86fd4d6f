"""Which rows training keeps when a feature table exceeds `training.max_train_rows`.

One rule for both training families, so the same spec trains on the same rows whether the
plan runs in process (pandas) or on Spark: every row gets the key
`sha256("<seed>:<id as text>")` (hex) and the `n` rows with the smallest keys are kept. The
key depends only on the row's id and the seed, so the choice is the same however the table
is partitioned or ordered, and a row kept at n rows is still kept at any larger n.

Ids are turned into text by each engine's own cast: integer and string ids (the usual kinds)
give the same text in pandas and Spark; so do dates. Rows with a null id sort last. Rows that
share an id share a key, so when the cut falls inside such a group the engines may keep
different members of it; ids are meant to be unique.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from aurora_pipelines.errors import SpecError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

KEY_COLUMN = "_aurora_sample_key"
# Sorts after every hex digest: null ids come last, as Spark's `asc_nulls_last` puts them.
_NULL_KEY = "~"


def _require_id(id_column: str | None, experiment: str) -> str:
    if not id_column:
        raise SpecError(
            f"experiment '{experiment}': training.max_train_rows keeps rows by a seeded hash "
            "of the id column, and the spec has no `id_column`; set `id_column` (a unique row "
            "id) or remove `training.max_train_rows`"
        )
    return id_column


def sample_keys(ids: pd.Series, seed: int) -> np.ndarray:
    """Each id's sampling key: hex sha256 of `<seed>:<id>`; a null id gets a key that sorts last."""
    prefix = f"{seed}:"
    missing = ids.isna().to_numpy()
    text = ids.astype(str).to_numpy()
    return np.array(
        [
            _NULL_KEY if null else hashlib.sha256((prefix + value).encode("utf-8")).hexdigest()
            for value, null in zip(text, missing, strict=True)
        ],
        dtype=object,
    )


def sample_pandas(
    frame: pd.DataFrame, *, limit: int | None, id_column: str | None, seed: int, experiment: str
) -> pd.DataFrame:
    """At most `limit` rows of `frame` by the shared rule, in the table's own order."""
    if not limit:
        return frame.reset_index(drop=True)
    # Required even when the table is small, as on Spark (which does not count it first).
    column = _require_id(id_column, experiment)
    if len(frame) <= limit:
        return frame.reset_index(drop=True)
    keys = sample_keys(frame[column], seed)
    kept = np.sort(np.argsort(keys, kind="stable")[:limit])
    return frame.iloc[kept].reset_index(drop=True)


def sample_spark(
    frame: DataFrame, *, limit: int | None, id_column: str | None, seed: int, experiment: str
) -> DataFrame:
    """At most `limit` rows of `frame` by the shared rule; computed on Spark, nothing collected."""
    if not limit:
        return frame
    from pyspark.sql import functions as F

    column = _require_id(id_column, experiment)
    key = F.sha2(F.concat(F.lit(f"{seed}:"), F.col(column).cast("string")), 256)
    return (
        frame.withColumn(KEY_COLUMN, key)
        .orderBy(F.col(KEY_COLUMN).asc_nulls_last())
        .limit(limit)
        .drop(KEY_COLUMN)
    )
