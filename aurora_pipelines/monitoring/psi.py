"""Population Stability Index (PSI) of one feature between a reference and a current batch.

    PSI = sum over buckets i of (c_i - r_i) * ln(c_i / r_i)

where r_i and c_i are the shares of reference and current rows in bucket i, and shares below
`epsilon` (default 1e-4; in practice the empty buckets) are raised to it, so an empty bucket
costs a large but finite amount instead of an infinite one. Common reading: < 0.1 stable,
0.1-0.2 moderate shift, > 0.2 significant.

Buckets:
- numeric: edges are the reference's quantiles at 1/bins, 2/bins, ... (bins-1)/bins, with
  duplicate edges dropped (a spiky reference gives fewer buckets), and the outer buckets are
  open-ended, so current values beyond the reference's range still land somewhere. Buckets are
  right-closed: (e_{k-1}, e_k].
- categorical: one bucket per reference category, plus one "__unseen__" bucket for current
  categories the reference never had.
- missing values are their own "__missing__" bucket in both cases: a change in the missing
  rate is a change in the population.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DEFAULT_BINS = 10
DEFAULT_EPSILON = 1e-4
MISSING = "__missing__"
UNSEEN = "__unseen__"


def is_numeric(series: pd.Series) -> bool:
    """Numeric for PSI purposes: a number dtype that is not boolean."""
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def numeric_edges(reference: pd.Series, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Inner bucket edges: the reference's deduplicated quantiles (outer buckets are open)."""
    values = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(dtype="float64")
    values = values[np.isfinite(values)]
    if values.size == 0 or bins < 2:
        return np.array([], dtype="float64")
    edges = np.quantile(values, np.arange(1, bins) / bins)
    return np.unique(edges)


def _numeric_buckets(series: pd.Series, edges: np.ndarray) -> pd.Series:
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    labels = _edge_labels(edges)
    # searchsorted(side="left") puts x in bucket k when e_{k-1} < x <= e_k.
    index = np.searchsorted(edges, values.to_numpy(), side="left")
    bucket = pd.Series([labels[i] for i in index], index=series.index, dtype="object")
    return bucket.where(values.notna(), MISSING)


def _edge_labels(edges: np.ndarray) -> list[str]:
    bounds = [-np.inf, *edges.tolist(), np.inf]
    return [f"({lo:.6g}, {hi:.6g}]" for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def _categorical_buckets(series: pd.Series, known: set[str]) -> pd.Series:
    text = series.astype("object").where(series.isna(), series.astype(str))
    bucket = text.where(text.isna() | text.isin(known), UNSEEN)
    return bucket.where(bucket.notna(), MISSING)


def psi_table(
    reference: pd.Series,
    current: pd.Series,
    *,
    bins: int = DEFAULT_BINS,
    epsilon: float = DEFAULT_EPSILON,
    numeric: bool | None = None,
) -> pd.DataFrame:
    """Per-bucket shares and PSI contributions; `psi` is the sum of `contribution`.

    `numeric` forces the bucketing; by default it follows the reference's dtype.
    """
    if numeric is None:
        numeric = is_numeric(reference)
    if numeric:
        edges = numeric_edges(reference, bins)
        ref_buckets = _numeric_buckets(reference, edges)
        cur_buckets = _numeric_buckets(current, edges)
        order = [*_edge_labels(edges), MISSING]
    else:
        known = set(reference.dropna().astype(str).unique())
        ref_buckets = _categorical_buckets(reference, known)
        cur_buckets = _categorical_buckets(current, known)
        order = [*sorted(known), UNSEEN, MISSING]
    ref_counts = ref_buckets.value_counts().reindex(order, fill_value=0)
    cur_counts = cur_buckets.value_counts().reindex(order, fill_value=0)
    table = pd.DataFrame(
        {
            "bucket": order,
            "reference_count": ref_counts.to_numpy(),
            "current_count": cur_counts.to_numpy(),
        }
    )
    table["reference_share"] = table["reference_count"] / max(len(reference), 1)
    table["current_share"] = table["current_count"] / max(len(current), 1)
    r = table["reference_share"].clip(lower=epsilon)
    c = table["current_share"].clip(lower=epsilon)
    table["contribution"] = (c - r) * np.log(c / r)
    # Buckets empty on both sides contribute exactly 0; dropping them keeps the table readable.
    return table[(table["reference_count"] > 0) | (table["current_count"] > 0)].reset_index(
        drop=True
    )


def population_stability_index(
    reference: pd.Series,
    current: pd.Series,
    *,
    bins: int = DEFAULT_BINS,
    epsilon: float = DEFAULT_EPSILON,
    numeric: bool | None = None,
) -> float:
    """PSI of `current` against `reference` (0 = identical distributions; see module docstring)."""
    table = psi_table(reference, current, bins=bins, epsilon=epsilon, numeric=numeric)
    return float(table["contribution"].sum())
