"""Distribution statistics computed on the pandas sample: quantiles, outliers, associations.

Every function takes pandas Series and returns plain floats/ints (None where a statistic is
undefined), so the profile stays JSON-serialisable and the maths is testable without Spark.

Association with the target (one number per column, `method` says which):
- numeric feature, binary target      -> point-biserial r (Pearson with the 0/1 target), signed
- numeric feature, numeric target     -> Pearson r, signed
- numeric feature, multiclass target  -> correlation ratio eta in [0, 1]
- categorical/boolean feature, class target -> bias-corrected Cramér's V in [0, 1]
  (Bergsma 2013; the plain V inflates with many categories and small samples)
- categorical/boolean feature, numeric target -> correlation ratio eta in [0, 1]
Cramér's V was chosen over a target-rate spread because it is bounded, symmetric and works for
multiclass targets; the per-category target rate is still visible in the top values.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

QUANTILES = {"p01": 0.01, "p25": 0.25, "p50": 0.50, "p75": 0.75, "p99": 0.99}
IQR_FENCE = 1.5  # Tukey's fences: below Q1 - 1.5 IQR or above Q3 + 1.5 IQR
Z_LIMIT = 3.0
SHAPE_MIN_SHARE = 0.9  # a string column "is" numbers/dates when this share of its values parse


def finite_or_none(value: object) -> float | None:
    """A float for JSON, or None for NaN/inf/missing (JSON has no NaN)."""
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def numeric_values(series: pd.Series) -> pd.Series:
    """Finite float values of a series; strings that do not parse are dropped."""
    values = pd.to_numeric(series, errors="coerce").astype("float64")
    return values[np.isfinite(values)]


def quantiles(values: pd.Series) -> dict[str, float | None]:
    if values.empty:
        return dict.fromkeys(QUANTILES)
    qs = values.quantile(list(QUANTILES.values()))
    return {name: finite_or_none(q) for name, q in zip(QUANTILES, qs, strict=True)}


def iqr_outliers(values: pd.Series) -> int:
    """Count of values outside Tukey's fences (0 when the IQR is 0: no spread to judge by)."""
    if len(values) < 4:
        return 0
    q1, q3 = values.quantile([0.25, 0.75])
    iqr = q3 - q1
    if iqr <= 0:
        return 0
    return int(((values < q1 - IQR_FENCE * iqr) | (values > q3 + IQR_FENCE * iqr)).sum())


def zscore_outliers(values: pd.Series) -> int:
    """Count of values more than 3 standard deviations from the mean."""
    if len(values) < 2:
        return 0
    std = values.std()
    if not std or not math.isfinite(std):
        return 0
    return int(((values - values.mean()).abs() > Z_LIMIT * std).sum())


def top_values(series: pd.Series, limit: int = 10) -> list[dict[str, object]]:
    """Most frequent non-null values with count and share of non-null values."""
    non_null = series.dropna()
    if non_null.empty:
        return []
    counts = non_null.astype(str).value_counts().head(limit)
    total = len(non_null)
    return [
        {"value": str(value), "count": int(count), "pct": round(100.0 * count / total, 3)}
        for value, count in counts.items()
    ]


def string_shape(series: pd.Series, probe_rows: int = 500) -> tuple[str, int]:
    """Dominant shape of non-blank strings ("number", "date" or "text"), and how many don't fit.

    Spots numbers or dates stored as text (typical of CSV sources read without a schema); the
    second value counts the values of such a column that do not parse (0 for "text"). The
    shape is decided on a probe of `probe_rows` values, because date parsing is slow.
    """
    values = series.dropna().astype(str).str.strip()
    values = values[values != ""]
    if values.empty:
        return "text", 0
    probe = values.iloc[:probe_rows]
    if pd.to_numeric(probe, errors="coerce").notna().mean() >= SHAPE_MIN_SHARE:
        return "number", int(pd.to_numeric(values, errors="coerce").isna().sum())
    # Most text is not dates: a quick look at the first values spares the slow mixed-format
    # parse of the whole probe.
    if _parse_dates(probe.iloc[:50]).notna().mean() < 0.5:
        return "text", 0
    if _parse_dates(probe).notna().mean() >= SHAPE_MIN_SHARE:
        return "date", int(_parse_dates(values).isna().sum())
    return "text", 0


def _parse_dates(values: pd.Series) -> pd.Series:
    with warnings.catch_warnings():
        # Unknown formats only warn; a failed parse is exactly what is being measured.
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
        if parsed.notna().mean() < SHAPE_MIN_SHARE:
            parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    return parsed


def case_collisions(series: pd.Series) -> int:
    """Values whose category differs from a more frequent one only by case or whitespace.

    "North", "north " and "NORTH" are one category spelled three ways: every value not in the
    most frequent spelling of its normalised form counts as inconsistent.
    """
    values = series.dropna().astype(str)
    if values.empty:
        return 0
    counts = values.value_counts()
    normalised = counts.groupby(counts.index.str.strip().str.lower()).agg(["sum", "max"])
    return int((normalised["sum"] - normalised["max"]).sum())


def pearson(x: pd.Series, y: pd.Series) -> float | None:
    frame = pd.concat([x, y], axis=1).dropna()
    if len(frame) < 3 or frame.iloc[:, 0].nunique() < 2 or frame.iloc[:, 1].nunique() < 2:
        return None
    return finite_or_none(np.corrcoef(frame.iloc[:, 0], frame.iloc[:, 1])[0, 1])


def _codes(series: pd.Series) -> tuple[np.ndarray, int]:
    """Integer category codes (-1 for missing) and the number of categories."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return np.asarray(codes, dtype="int64"), len(uniques)


def _cramers_v_codes(a: np.ndarray, ka: int, b: np.ndarray, kb: int) -> float | None:
    keep = (a >= 0) & (b >= 0)
    if keep.sum() < 3:
        return None
    # The contingency table by bincount: pd.crosstab aggregates in Python (~100x slower).
    table = np.bincount(a[keep] * kb + b[keep], minlength=ka * kb).reshape(ka, kb)
    table = table[table.sum(axis=1) > 0]
    table = table[:, table.sum(axis=0) > 0].astype("float64")
    r, k = table.shape
    if r < 2 or k < 2:
        return None
    n = table.sum()
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    phi2 = chi2 / n
    phi2_corr = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    r_corr = r - (r - 1) ** 2 / (n - 1)
    k_corr = k - (k - 1) ** 2 / (n - 1)
    denominator = min(k_corr - 1, r_corr - 1)
    if denominator <= 0:
        return None
    return finite_or_none(math.sqrt(phi2_corr / denominator))


def cramers_v(x: pd.Series, y: pd.Series) -> float | None:
    """Bias-corrected Cramér's V of two categorical series (0 independent, 1 determined)."""
    return _cramers_v_codes(*_codes(x), *_codes(y))


def correlation_ratio(categories: pd.Series, values: pd.Series) -> float | None:
    """Eta: the share of the numeric variance explained by the categories, square-rooted."""
    frame = pd.concat([categories.astype("object"), values], axis=1).dropna()
    if len(frame) < 3:
        return None
    frame.columns = ["category", "value"]
    total = ((frame["value"] - frame["value"].mean()) ** 2).sum()
    if total <= 0:
        return None
    groups = frame.groupby("category")["value"].agg(["mean", "count"])
    between = (groups["count"] * (groups["mean"] - frame["value"].mean()) ** 2).sum()
    return finite_or_none(math.sqrt(between / total))


def target_association(
    feature: pd.Series, feature_kind: str, target: pd.Series, target_kind: str
) -> tuple[float | None, str | None]:
    """Association of one feature with the target, and the name of the method used.

    `feature_kind`/`target_kind` are "numeric" or "categorical" (booleans count as categorical);
    `target_kind` "binary" selects the point-biserial correlation.
    """
    if feature_kind == "numeric":
        x = pd.to_numeric(feature, errors="coerce")
        if target_kind == "binary":
            codes = target.astype("category").cat.codes.where(target.notna())
            return pearson(x, codes.astype("float64")), "point_biserial"
        if target_kind == "numeric":
            return pearson(x, pd.to_numeric(target, errors="coerce")), "pearson"
        return correlation_ratio(target, x), "correlation_ratio"
    if feature_kind == "categorical":
        if target_kind == "numeric":
            return correlation_ratio(feature, pd.to_numeric(target, errors="coerce")), (
                "correlation_ratio"
            )
        return cramers_v(feature, target), "cramers_v"
    return None, None


def correlation_matrix(
    sample: pd.DataFrame, columns: list[str], method: str = "pearson"
) -> dict[str, dict[str, float]]:
    """Pearson (or Spearman) correlations between numeric columns (pairwise complete rows).

    Spearman is the Pearson correlation of each column's ranks, ranked once per column:
    pandas' own Spearman re-ranks every pair (~7x slower on 15 columns); the two differ only
    when values are missing (here by < 1e-4).
    """
    if len(columns) < 2:
        return {}
    numeric = sample[columns].apply(pd.to_numeric, errors="coerce").astype("float64")
    numeric = numeric.replace([np.inf, -np.inf], np.nan)
    if method == "spearman":
        numeric = numeric.rank()
    matrix = numeric.corr(method="pearson", min_periods=3)
    return {
        row: {
            col: round(v, 4)
            for col in columns
            if (v := finite_or_none(matrix.at[row, col])) is not None
        }
        for row in columns
    }


def cramers_v_matrix(sample: pd.DataFrame, columns: list[str]) -> dict[str, dict[str, float]]:
    """Bias-corrected Cramér's V between every pair of categorical columns (1 on the diagonal)."""
    if len(columns) < 2:
        return {}
    codes = {c: _codes(sample[c]) for c in columns}  # each column factorized once
    out: dict[str, dict[str, float]] = {c: {c: 1.0} for c in columns}
    for i, a in enumerate(columns):
        for b in columns[i + 1 :]:
            v = _cramers_v_codes(*codes[a], *codes[b])
            if v is not None:
                out[a][b] = out[b][a] = round(v, 4)
    return out


HISTOGRAM_BINS = 20


def histogram(values: pd.Series, bins: int = HISTOGRAM_BINS) -> dict[str, object] | None:
    """Equal-width bins over the p01-p99 range, plus the counts below and above it.

    Clipping to p01-p99 keeps one extreme value (an income 100x too large) from squashing the
    whole distribution into one bin; the tails are still counted.
    """
    if values.empty:
        return None
    low, high = (float(q) for q in values.quantile([0.01, 0.99]))
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        low, high = float(values.min()), float(values.max())
    if high <= low:
        return {"edges": [low, high], "counts": [len(values)], "below": 0, "above": 0}
    inside = values[(values >= low) & (values <= high)]
    counts, edges = np.histogram(inside, bins=bins, range=(low, high))
    return {
        "edges": [round(float(e), 6) for e in edges],
        "counts": [int(c) for c in counts],
        "below": int((values < low).sum()),
        "above": int((values > high).sum()),
    }


def single_feature_auc(feature: pd.Series, target: pd.Series) -> float | None:
    """ROC AUC of one numeric feature against a binary target, folded to >= 0.5."""
    frame = pd.concat([pd.to_numeric(feature, errors="coerce"), target], axis=1).dropna()
    if len(frame) < 10:
        return None
    classes = frame.iloc[:, 1].astype(str)
    labels = sorted(classes.unique())
    if len(labels) != 2:
        return None
    positive = (classes == labels[1]).to_numpy()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return None
    ranks = frame.iloc[:, 0].rank(method="average").to_numpy()
    auc = (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return finite_or_none(max(auc, 1 - auc))


def duplicate_rows(sample: pd.DataFrame) -> int:
    """Rows of the sample that repeat an earlier row exactly (unhashable columns ignored)."""
    if sample.empty:
        return 0
    try:  # the common case: every column hashable, no per-value type check needed
        return int(sample.duplicated().sum())
    except TypeError:
        pass
    hashable = [
        c
        for c in sample.columns
        if sample[c].dtype != object
        or not sample[c].map(lambda v: isinstance(v, list | dict | np.ndarray)).any()
    ]
    if not hashable or sample.empty:
        return 0
    return int(sample.duplicated(subset=hashable).sum())
