"""The training reference of a model, precomputed once: per-feature bins and their counts.

A window is later binned against these bins (on Spark or pandas, see `binning.py`), so drift
statistics need only the window's bucket counts, never the reference rows again.

Numeric features keep two sets of right-closed bucket edges, both the reference's quantiles:
- `edges`: percentiles 1..99 (deduplicated) — the fine bins, used for the Kolmogorov-Smirnov
  statistic from binned CDFs;
- `psi_edges`: deciles (deduplicated) — the PSI bins, as in `psi.py`. The deciles are a subset
  of the percentiles, so PSI counts are sums of fine counts (one pass over a window).
Categorical features keep the reference's most frequent values (at most `MAX_CATEGORIES`);
others count in `__unseen__`. Missing values are their own bucket either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from aurora_pipelines.monitoring.psi import DEFAULT_BINS, MISSING, UNSEEN, is_numeric

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

FINE_BINS = 100
MAX_CATEGORIES = 100
# Spark's approxQuantile error bound for the reference edges (rank error <= 0.1% of rows).
QUANTILE_RELATIVE_ERROR = 0.001
SCORE_FEATURE = "__score__"


def class_score_feature(label: str) -> str:
    """The series' column name of one class's probability (multiclass prediction drift)."""
    return f"{SCORE_FEATURE}[{label}]"


def score_feature_class(column: str) -> str:
    """The class label of a `class_score_feature` column."""
    return column[len(SCORE_FEATURE) + 1 : -1]


def is_score_feature(column: str) -> bool:
    """Whether a drift-series column is a prediction (score or class score), not a feature."""
    return column == SCORE_FEATURE or column.startswith(f"{SCORE_FEATURE}[")


class FeatureReference(BaseModel):
    """Bins of one feature and the reference's count in each."""

    column: str
    kind: Literal["numeric", "categorical"]
    edges: list[float] = []  # numeric: fine inner edges
    psi_edges: list[float] = []  # numeric: PSI inner edges (subset of `edges`)
    categories: list[str] = []  # categorical: known values
    counts: list[int] = []  # numeric: len(edges)+1 fine buckets; categorical: per category
    unseen: int = 0  # categorical: reference rows outside `categories`
    missing: int = 0
    rows: int = 0

    def fine_to_psi(self) -> np.ndarray:
        """For each fine bucket, the index of the PSI bucket that contains it."""
        uppers = np.array([*self.edges, np.inf])
        return np.searchsorted(np.array(self.psi_edges), uppers, side="left")


class ReferenceProfile(BaseModel):
    """Every monitored feature's reference bins (and, optionally, the score's)."""

    features: list[FeatureReference]
    skipped: dict[str, str] = {}
    rows: int
    source: str = ""  # e.g. the features table path and its Delta version
    model_version: str | None = None
    score: FeatureReference | None = None  # the reference score distribution
    # Multiclass: each class's probability distribution (columns `class_score_feature(label)`).
    class_scores: list[FeatureReference] = []

    def feature(self, column: str) -> FeatureReference:
        for feature in self.features:
            if feature.column == column:
                return feature
        raise KeyError(column)

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> ReferenceProfile:
        return cls.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))


def _edges_from_quantiles(quantiles: list[float]) -> tuple[list[float], list[float]]:
    """Fine edges (percentiles) and PSI edges (the deciles among them), deduplicated."""
    values = np.array([q for q in quantiles if q is not None and np.isfinite(q)], dtype="float64")
    if values.size < FINE_BINS - 1:
        return [], []
    fine = np.unique(values)
    step = FINE_BINS // DEFAULT_BINS
    psi = np.unique(values[step - 1 :: step][: DEFAULT_BINS - 1])
    return fine.tolist(), psi.tolist()


def _probabilities() -> list[float]:
    return (np.arange(1, FINE_BINS) / FINE_BINS).tolist()


def spark_kind(data_type: str) -> str | None:
    """'numeric', 'categorical' or None (skipped) for a Spark simpleString type."""
    if data_type in ("date", "timestamp", "timestamp_ntz") or data_type.startswith("interval"):
        return None
    if data_type == "boolean" or data_type == "string":
        return "categorical"
    numeric = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")
    return "numeric" if data_type.startswith(numeric) else "categorical"


def pandas_kind(series: pd.Series) -> str | None:
    """'numeric', 'categorical' or None (skipped: dates/times) for a pandas column."""
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        return None
    dates = ("date", "datetime", "datetime64", "time", "timedelta")
    if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) in dates:
        return None
    return "numeric" if is_numeric(series) else "categorical"


def _kinds(
    columns: list[str], kind_of: Callable[[str], str | None]
) -> tuple[dict[str, str], dict[str, str]]:
    """(column -> "numeric" | "categorical", column -> why it has no reference bins)."""
    kinds: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for column in columns:
        kind = kind_of(column)
        if kind is None:
            skipped[column] = "date/time column"
        else:
            kinds[column] = kind
    return kinds, skipped


def build_reference_spark(
    df: DataFrame, columns: list[str], *, source: str = "", model_version: str | None = None
) -> ReferenceProfile:
    """Reference bins from a Spark DataFrame: approxQuantile edges, then Spark bucket counts."""
    from aurora_pipelines.monitoring.binning import count_spark

    types = dict((f.name, f.dataType.simpleString()) for f in df.schema.fields)
    kinds, skipped = _kinds(columns, lambda column: spark_kind(types[column]))
    numeric = [c for c, k in kinds.items() if k == "numeric"]
    from pyspark.sql import functions as F

    # NaN would sort above every number in approxQuantile; treat it as missing.
    clean = df.select(
        *[
            F.when(F.isnan(F.col(c).cast("double")), None)
            .otherwise(F.col(c).cast("double"))
            .alias(c)
            for c in numeric
        ],
        *[F.col(c) for c in kinds if kinds[c] == "categorical"],
    )
    quantiles = (
        clean.approxQuantile(numeric, _probabilities(), QUANTILE_RELATIVE_ERROR) if numeric else []
    )
    top = _top_categories(clean, [c for c, k in kinds.items() if k == "categorical"])
    features = _skeleton(kinds, dict(zip(numeric, quantiles, strict=True)), top)
    counts = count_spark(df, features)
    return _with_counts(features, counts, skipped, source, model_version)


def _top_categories(df: DataFrame, columns: list[str]) -> dict[str, list[str]]:
    """Each categorical column's most frequent values, in one Spark job for all columns."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    top: dict[str, list[str]] = {c: [] for c in columns}
    if not columns:
        return top
    pairs = F.array(
        *[F.struct(F.lit(c).alias("f"), F.col(c).cast("string").alias("v")) for c in columns]
    )
    counts = (
        df.select(F.explode(pairs).alias("p"))
        .where(F.col("p.v").isNotNull())
        .groupBy(F.col("p.f").alias("f"), F.col("p.v").alias("v"))
        .count()
    )
    rank = F.row_number().over(Window.partitionBy("f").orderBy(F.desc("count"), F.asc("v")))
    for row in (
        counts.withColumn("rank", rank)
        .where(F.col("rank") <= MAX_CATEGORIES)
        .orderBy("f", "rank")
        .collect()
    ):
        top[row["f"]].append(row["v"])
    return top


def build_reference_pandas(
    frame: pd.DataFrame, columns: list[str], *, source: str = "", model_version: str | None = None
) -> ReferenceProfile:
    """Reference bins from a pandas frame (exact quantiles, as `psi.numeric_edges`)."""
    from aurora_pipelines.monitoring.binning import count_pandas

    kinds, skipped = _kinds(columns, lambda column: pandas_kind(frame[column]))
    quantiles: dict[str, list[float]] = {}
    top: dict[str, list[str]] = {}
    from aurora_pipelines.monitoring.binning import as_category_text

    for column, kind in kinds.items():
        if kind == "numeric":
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64")
            values = values[np.isfinite(values)]
            quantiles[column] = (
                np.quantile(values, _probabilities()).tolist() if values.size else []
            )
        else:
            counts = as_category_text(frame[column]).dropna().value_counts()
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            top[column] = [k for k, _ in ordered[:MAX_CATEGORIES]]
    features = _skeleton(kinds, quantiles, top)
    counts = count_pandas(frame, features)
    return _with_counts(features, counts, skipped, source, model_version)


def _skeleton(
    kinds: dict[str, str], quantiles: dict[str, list[float]], top: dict[str, list[str]]
) -> list[FeatureReference]:
    features = []
    for column, kind in kinds.items():
        if kind == "numeric":
            edges, psi_edges = _edges_from_quantiles(quantiles.get(column, []))
            features.append(
                FeatureReference(column=column, kind="numeric", edges=edges, psi_edges=psi_edges)
            )
        else:
            features.append(
                FeatureReference(column=column, kind="categorical", categories=top[column])
            )
    return features


def _with_counts(
    features: list[FeatureReference],
    counts: dict[str, BucketCounts],
    skipped: dict[str, str],
    source: str,
    model_version: str | None,
) -> ReferenceProfile:
    rows = 0
    for feature in features:
        c = counts[feature.column]
        feature.counts = c.counts.tolist()
        feature.unseen = c.unseen
        feature.missing = c.missing
        feature.rows = c.rows
        rows = max(rows, c.rows)
    return ReferenceProfile(
        features=features, skipped=skipped, rows=rows, source=source, model_version=model_version
    )


# A local reference table up to this many rows is binned in this process (pandas/numpy),
# not by Spark: for 1M x 30 that took seconds instead of approxQuantile's minute of JVM work
# (BENCHMARKS.md, drift). Larger tables, or tables not on local disk, stay on Spark.
LOCAL_REFERENCE_MAX_ROWS = 3_000_000


def local_table_rows(path: str | Path) -> int | None:
    """Rows of a Delta table (from its log) or a Parquet file/folder on local disk, or None
    when `path` is not local (an s3:// URI) or does not hold one."""
    if "://" in str(path):
        return None
    path = Path(path)
    if (path / "_delta_log").is_dir():
        from deltalake import DeltaTable

        actions = DeltaTable(str(path)).get_add_actions(flatten=True)
        return int(sum(actions.column("num_records").to_pylist() or [0]))
    if path.exists():
        import pyarrow.dataset as ds

        return ds.dataset(str(path), format="parquet").count_rows()
    return None


def build_reference_local(
    path: str | Path, columns: list[str], *, source: str = "", model_version: str | None = None
) -> ReferenceProfile:
    """Reference bins of a local Delta table (or Parquet folder) read in this process: only
    `columns` are read; exact quantiles (Spark's are within 0.1% rank), same bins otherwise."""
    from aurora_pipelines.monitoring.local_binning import build_reference_local as build

    return build(path, columns, source=source, model_version=model_version)


class BucketCounts(BaseModel):
    """A batch's counts in one feature's reference buckets."""

    model_config = {"arbitrary_types_allowed": True}

    counts: np.ndarray
    unseen: int = 0
    missing: int = 0

    @property
    def rows(self) -> int:
        return int(self.counts.sum()) + self.unseen + self.missing


__all__ = [
    "MISSING",
    "UNSEEN",
    "BucketCounts",
    "FeatureReference",
    "ReferenceProfile",
    "build_reference_local",
    "build_reference_pandas",
    "build_reference_spark",
    "class_score_feature",
    "is_score_feature",
    "score_feature_class",
]
