"""Count a batch in the reference's buckets: Spark aggregates for large windows, pandas for small.

On Spark the window is never collected: one `Bucketizer` pass gives every numeric feature its
fine-bucket id, categorical values are mapped to known/`__unseen__`/`__missing__`, and a single
`groupBy(feature, bucket).count()` over the exploded (feature, bucket) pairs returns at most
features x buckets rows to the driver.

Buckets are right-closed, (e_{k-1}, e_k], like `psi.py`. Spark's Bucketizer is left-closed,
[s_j, s_{j+1}), so it runs on -x with the negated, reversed edges: bucket j of -x is bucket
n - j of x (n inner edges).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from aurora_pipelines.monitoring.psi import MISSING, UNSEEN
from aurora_pipelines.monitoring.reference import BucketCounts, FeatureReference

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def as_category_text(series: pd.Series) -> pd.Series:
    """Categorical values as text, spelled as Spark casts them (booleans 'true'/'false')."""
    if pd.api.types.is_bool_dtype(series):
        text = series.map({True: "true", False: "false"})
    else:
        text = series.astype("object").where(series.isna(), series.astype(str))
        text = text.replace({"True": "true", "False": "false"})
    return text.astype("object").where(series.notna(), None)


def count_pandas(frame: pd.DataFrame, features: list[FeatureReference]) -> dict[str, BucketCounts]:
    """Bucket counts of a pandas batch (small windows and tests)."""
    out: dict[str, BucketCounts] = {}
    for feature in features:
        series = frame[feature.column]
        if feature.kind == "numeric":
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")
            present = ~np.isnan(values)
            index = np.searchsorted(np.array(feature.edges), values[present], side="left")
            counts = np.bincount(index, minlength=len(feature.edges) + 1)
            out[feature.column] = BucketCounts(
                counts=counts.astype("int64"), missing=int((~present).sum())
            )
        else:
            text = as_category_text(series)
            known = pd.Categorical(text.dropna(), categories=feature.categories)
            counts = pd.Series(known).value_counts(sort=False).reindex(feature.categories)
            present = int(text.notna().sum())
            out[feature.column] = BucketCounts(
                counts=counts.fillna(0).to_numpy(dtype="int64"),
                unseen=present - int(counts.fillna(0).sum()),
                missing=int(text.isna().sum()),
            )
    return out


def count_spark(df: DataFrame, features: list[FeatureReference]) -> dict[str, BucketCounts]:
    """Bucket counts of a Spark batch with one Bucketizer pass and one groupBy."""
    from pyspark.ml.feature import Bucketizer
    from pyspark.sql import functions as F

    numeric = [f for f in features if f.kind == "numeric" and f.edges]
    prepared = df.select(
        *[
            # -x, with null and NaN as NaN: Bucketizer's 'keep' puts NaN in an extra bucket.
            F.coalesce(-F.col(f.column).cast("double"), F.lit(float("nan"))).alias(_neg(i))
            for i, f in enumerate(numeric)
        ],
        *[F.col(f.column) for f in features if not (f.kind == "numeric" and f.edges)],
    )
    if numeric:
        prepared = Bucketizer(
            inputCols=[_neg(i) for i in range(len(numeric))],
            outputCols=[_bucket(i) for i in range(len(numeric))],
            splitsArray=[
                [float("-inf"), *[-e for e in reversed(f.edges)], float("inf")] for f in numeric
            ],
            handleInvalid="keep",
        ).transform(prepared)
    pairs = []
    for i, f in enumerate(numeric):
        n = len(f.edges)
        bucket = F.col(_bucket(i))
        key = F.when(bucket >= n + 1, F.lit(MISSING)).otherwise(
            (F.lit(n) - bucket).cast("int").cast("string")
        )
        pairs.append(F.struct(F.lit(f.column).alias("f"), key.alias("k")))
    for f in features:
        if f.kind == "numeric" and not f.edges:
            # A constant (or empty) reference: one bucket for every present value.
            value = F.col(f.column).cast("double")
            key = F.when(value.isNull() | F.isnan(value), F.lit(MISSING)).otherwise(F.lit("0"))
        elif f.kind == "categorical":
            text = F.col(f.column).cast("string")
            key = (
                F.when(text.isNull(), F.lit(MISSING))
                .when(text.isin(f.categories), text)
                .otherwise(F.lit(UNSEEN))
            )
        else:
            continue
        pairs.append(F.struct(F.lit(f.column).alias("f"), key.alias("k")))
    rows = (
        prepared.select(F.explode(F.array(*pairs)).alias("p"))
        .groupBy(F.col("p.f").alias("f"), F.col("p.k").alias("k"))
        .count()
        .collect()
    )
    found: dict[str, dict[str, int]] = {f.column: {} for f in features}
    for row in rows:
        found[row["f"]][row["k"]] = int(row["count"])
    out: dict[str, BucketCounts] = {}
    for f in features:
        got = found[f.column]
        if f.kind == "numeric":
            counts = np.array([got.get(str(k), 0) for k in range(len(f.edges) + 1)], dtype="int64")
            out[f.column] = BucketCounts(counts=counts, missing=got.get(MISSING, 0))
        else:
            counts = np.array([got.get(c, 0) for c in f.categories], dtype="int64")
            out[f.column] = BucketCounts(
                counts=counts, unseen=got.get(UNSEEN, 0), missing=got.get(MISSING, 0)
            )
    return out


def _neg(i: int) -> str:
    return f"__neg_{i}"


def _bucket(i: int) -> str:
    return f"__bucket_{i}"
