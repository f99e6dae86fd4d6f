"""Reference bins and window counts of a local table in this process, on Arrow and numpy.

The same buckets as `binning.count_spark` (right-closed numeric buckets, known categories,
`__unseen__`, `__missing__`), for tables on local disk small enough for one process
(`LOCAL_MAX_ROWS`): no JVM job, no pandas object columns. Only the needed columns are read,
from the Delta table's files (`DeltaTable.file_uris`; `to_pyarrow_table`/`_dataset` make the
process abort at exit) or a Parquet file/folder. Windows are counted batch by batch, so memory
stays bounded by a batch, not the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aurora_pipelines.monitoring.reference import (
    LOCAL_REFERENCE_MAX_ROWS,
    MAX_CATEGORIES,
    BucketCounts,
    FeatureReference,
    ReferenceProfile,
    _probabilities,
    _skeleton,
    _with_counts,
)

# A local window up to this many rows is counted in this process, as the reference is.
LOCAL_MAX_ROWS = LOCAL_REFERENCE_MAX_ROWS
BATCH_ROWS = 262_144


def arrow_kind(data_type: pa.DataType) -> str | None:
    """'numeric', 'categorical' or None (skipped: dates/times) for an Arrow type, as
    `reference.spark_kind` decides for Spark types."""
    t = pa.types
    if t.is_temporal(data_type):
        return None
    if t.is_boolean(data_type):
        return "categorical"
    if t.is_integer(data_type) or t.is_floating(data_type) or t.is_decimal(data_type):
        return "numeric"
    return "categorical"


def table_files(path: str | Path) -> list[str]:
    """The Parquet files of a local Delta table (its current version) or Parquet file/folder."""
    path = Path(path)
    if (path / "_delta_log").is_dir():
        from deltalake import DeltaTable

        return [uri.removeprefix("file://") for uri in DeltaTable(str(path)).file_uris()]
    if path.is_dir():
        return sorted(str(p) for p in path.rglob("*.parquet") if not p.name.startswith("."))
    return [str(path)]


def _dataset(path: str | Path):
    import pyarrow.dataset as ds

    return ds.dataset(table_files(path), format="parquet")


def read_columns(path: str | Path, columns: list[str]) -> pa.Table:
    """Only `columns` of a local table, as one Arrow table."""
    return _dataset(path).to_table(columns=columns)


def iter_batches(path: str | Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    """Only `columns` of a local table, batch by batch."""
    yield from _dataset(path).to_batches(columns=columns, batch_size=BATCH_ROWS)


def _numbers(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """float64 values with null (and NaN) as NaN; decimals as doubles, as Spark casts them."""
    if column.type != pa.float64():
        column = pc.cast(column, pa.float64())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype="float64")


def _text(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Categorical values as text, spelled as Spark casts them (booleans 'true'/'false')."""
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return pc.cast(column, pa.string())


def _top(column: pa.Array | pa.ChunkedArray) -> list[str]:
    """The most frequent values (ties by value), at most MAX_CATEGORIES."""
    counts = pc.value_counts(pc.drop_null(_text(column)))
    if len(counts) == 0:
        return []
    table = pa.table({"v": counts.field("values"), "n": counts.field("counts")})
    table = table.sort_by([("n", "descending"), ("v", "ascending")]).slice(0, MAX_CATEGORIES)
    return table.column("v").to_pylist()


def _count_numeric(values: np.ndarray, feature: FeatureReference) -> BucketCounts:
    present = ~np.isnan(values)
    index = np.searchsorted(np.asarray(feature.edges), values[present], side="left")
    counts = np.bincount(index, minlength=len(feature.edges) + 1).astype("int64")
    return BucketCounts(counts=counts, missing=int(values.size - present.sum()))


def _count_categorical(
    column: pa.Array | pa.ChunkedArray, feature: FeatureReference
) -> BucketCounts:
    text = _text(column)
    missing = text.null_count
    index = pc.index_in(text, value_set=pa.array(feature.categories, pa.string()))
    known = np.asarray(pc.drop_null(index).to_numpy(zero_copy_only=False), dtype="int64")
    counts = np.bincount(known, minlength=len(feature.categories)).astype("int64")
    return BucketCounts(counts=counts, unseen=len(text) - missing - known.size, missing=missing)


def count_arrow(
    table: pa.Table | pa.RecordBatch, features: list[FeatureReference]
) -> dict[str, BucketCounts]:
    """Bucket counts of an Arrow batch in the reference's buckets."""
    out: dict[str, BucketCounts] = {}
    for feature in features:
        column = table.column(feature.column)
        if feature.kind == "numeric":
            out[feature.column] = _count_numeric(_numbers(column), feature)
        else:
            out[feature.column] = _count_categorical(column, feature)
    return out


def add_counts(total: dict[str, BucketCounts], more: dict[str, BucketCounts]) -> None:
    """Add one batch's counts to a running total, in place."""
    for column, c in more.items():
        if column not in total:
            total[column] = c
            continue
        t = total[column]
        total[column] = BucketCounts(
            counts=t.counts + c.counts, unseen=t.unseen + c.unseen, missing=t.missing + c.missing
        )


def count_batches(
    batches: Iterable[pa.RecordBatch], features: list[FeatureReference]
) -> dict[str, BucketCounts]:
    """Bucket counts summed over Arrow batches (every feature present, zero when no rows)."""
    total: dict[str, BucketCounts] = {}
    for batch in batches:
        add_counts(total, count_arrow(batch, features))
    for feature in features:
        if feature.column not in total:
            size = len(feature.edges) + 1 if feature.kind == "numeric" else len(feature.categories)
            total[feature.column] = BucketCounts(counts=np.zeros(size, dtype="int64"))
    return total


def count_local(path: str | Path, features: list[FeatureReference]) -> dict[str, BucketCounts]:
    """Bucket counts of a local table, read batch by batch, only the features' columns."""
    return count_batches(iter_batches(path, [f.column for f in features]), features)


def _sorted_bins(values: np.ndarray) -> tuple[list[float], np.ndarray]:
    """Exact percentiles of the finite values (numpy's linear rule) and the present values
    sorted: one sort serves both the edges and the reference's counts."""
    present = np.sort(values[~np.isnan(values)])  # -inf first, inf last
    finite = present[np.isfinite(present)]
    return (np.quantile(finite, _probabilities()).tolist() if finite.size else []), present


def _count_sorted(present: np.ndarray, feature: FeatureReference, rows: int) -> BucketCounts:
    """Counts in right-closed buckets of already sorted values (no pass over the values)."""
    upto = np.searchsorted(present, np.asarray(feature.edges), side="right")
    counts = np.diff(np.concatenate([[0], upto, [present.size]])).astype("int64")
    return BucketCounts(counts=counts, missing=rows - present.size)


def build_reference_arrow(
    table: pa.Table, columns: list[str], *, source: str = "", model_version: str | None = None
) -> ReferenceProfile:
    """Reference bins of an Arrow table: exact quantiles and top categories, then counts."""
    kinds: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for column in columns:
        kind = arrow_kind(table.schema.field(column).type)
        if kind is None:
            skipped[column] = "date/time column"
        else:
            kinds[column] = kind
    numeric = {
        c: _sorted_bins(_numbers(table.column(c))) for c, k in kinds.items() if k == "numeric"
    }
    quantiles = {c: q for c, (q, _) in numeric.items()}
    top = {c: _top(table.column(c)) for c, k in kinds.items() if k == "categorical"}
    features = _skeleton(kinds, quantiles, top)
    counts = {
        f.column: _count_sorted(numeric[f.column][1], f, table.num_rows)
        if f.kind == "numeric"
        else _count_categorical(table.column(f.column), f)
        for f in features
    }
    return _with_counts(features, counts, skipped, source, model_version)


def sample_arrow(table: pa.Table, rows: int, seed: int = 0) -> pa.Table:
    """At most `rows` rows of `table`, drawn uniformly without replacement (kept in order)."""
    if table.num_rows <= rows:
        return table
    rng = np.random.default_rng(seed)
    return table.take(np.sort(rng.choice(table.num_rows, rows, replace=False)))


def sample_local(path: str | Path, rows: int, columns: list[str], seed: int = 0):
    """At most `rows` rows of a local table's `columns`, as pandas (the Evidently sample)."""
    return sample_arrow(read_columns(path, columns), rows, seed).to_pandas()


def build_reference_local(
    path: str | Path, columns: list[str], *, source: str = "", model_version: str | None = None
) -> ReferenceProfile:
    """Reference bins of a local Delta table (or Parquet file/folder), read in this process."""
    return build_reference_arrow(
        read_columns(path, columns), columns, source=source, model_version=model_version
    )
