"""Drift statistics of one feature from bucket counts: PSI, KS / chi-squared, Jensen-Shannon.

Everything here works on the reference's and the window's counts (see `binning.py`), so the
same code serves a 5,000-row test window and a 10M-row Spark window.

- PSI: as `psi.py` (decile buckets, a missing bucket, shares floored at epsilon).
- numeric test: two-sample Kolmogorov-Smirnov. D is computed from the binned CDFs at the
  reference's percentile edges, i.e. the exact empirical CDF difference evaluated at 99 points
  instead of at every value: it never overstates D and understates it by at most the largest
  share of either sample falling inside one percentile bucket (about 1% plus the quantile
  sketch's 0.1% rank error). p-value: scipy's asymptotic Kolmogorov distribution
  (`kstwo.sf(D, round(n*m/(n+m)))`, the same formula as `ks_2samp(method='asymp')`).
- categorical test: chi-squared test of homogeneity (scipy `chi2_contingency`) on the 2 x k
  table of reference and window counts (known categories, `__unseen__`, `__missing__`).
- Jensen-Shannon distance (scipy, base 2, in [0, 1]) between the two bucket distributions.

Per-feature verdict (Evidently's default rule, so both views read alike): with at most
`SMALL_WINDOW` window rows the test's p-value < `P_VALUE_MAX` means drift; above that, any
real difference is "significant", so Jensen-Shannon distance >= `JS_DISTANCE_MAX` decides.
Either that or PSI >= the feature's error threshold marks the feature `drifted`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel

from aurora_pipelines.monitoring.psi import DEFAULT_EPSILON
from aurora_pipelines.monitoring.reference import BucketCounts, FeatureReference

SMALL_WINDOW = 1000
P_VALUE_MAX = 0.05
JS_DISTANCE_MAX = 0.1

Severity = Literal["ok", "warn", "error"]


class FeatureStats(BaseModel):
    """One feature's drift in one window."""

    column: str
    kind: str
    psi: float
    test: str  # "ks" or "chi2"
    statistic: float  # KS D or chi-squared statistic
    p_value: float
    js_distance: float
    reference_missing_share: float
    current_missing_share: float
    psi_warn: float
    psi_error: float
    severity: Severity  # from PSI against this feature's warn/error thresholds
    test_drifted: bool
    drifted: bool


def _psi(ref: np.ndarray, cur: np.ndarray, epsilon: float = DEFAULT_EPSILON) -> float:
    r = np.clip(ref / max(ref.sum(), 1), epsilon, None)
    c = np.clip(cur / max(cur.sum(), 1), epsilon, None)
    used = (ref > 0) | (cur > 0)
    return float(np.sum(((c - r) * np.log(c / r))[used]))


def psi_from_counts(ref: np.ndarray, cur: np.ndarray, epsilon: float = DEFAULT_EPSILON) -> float:
    """PSI of two count vectors over the same buckets (missing bucket included by the caller)."""
    return _psi(np.asarray(ref, dtype="float64"), np.asarray(cur, dtype="float64"), epsilon)


def _js(ref: np.ndarray, cur: np.ndarray) -> float:
    from scipy.spatial.distance import jensenshannon

    if ref.sum() == 0 or cur.sum() == 0:
        return 0.0
    value = float(jensenshannon(ref / ref.sum(), cur / cur.sum(), base=2))
    return 0.0 if np.isnan(value) else value


def ks_from_binned(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """(D, p-value) of the two-sample KS test from counts in the same ordered buckets."""
    from scipy.stats import kstwo

    n, m = float(ref.sum()), float(cur.sum())
    if n == 0 or m == 0:
        return 0.0, 1.0
    d = float(np.max(np.abs(np.cumsum(ref) / n - np.cumsum(cur) / m)))
    en = round(n * m / (n + m))
    return d, float(kstwo.sf(d, max(en, 1)))


def chi2_from_counts(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """(statistic, p-value) of the chi-squared homogeneity test over the used buckets."""
    from scipy.stats import chi2_contingency

    used = (ref + cur) > 0
    if used.sum() < 2 or ref.sum() == 0 or cur.sum() == 0:
        return 0.0, 1.0
    result = chi2_contingency(np.vstack([ref[used], cur[used]]))
    return float(result.statistic), float(result.pvalue)


def feature_stats(
    reference: FeatureReference,
    window: BucketCounts,
    *,
    psi_warn: float,
    psi_error: float,
) -> FeatureStats:
    """All statistics of one feature from reference and window counts."""
    ref_fine = np.asarray(reference.counts, dtype="float64")
    cur_fine = np.asarray(window.counts, dtype="float64")
    if reference.kind == "numeric":
        mapping = reference.fine_to_psi() if reference.edges else np.zeros(1, dtype=int)
        size = len(reference.psi_edges) + 1
        ref_psi = np.bincount(mapping, weights=ref_fine, minlength=size)
        cur_psi = np.bincount(mapping, weights=cur_fine, minlength=size)
        ref_buckets = np.append(ref_psi, reference.missing)
        cur_buckets = np.append(cur_psi, window.missing)
        statistic, p_value = ks_from_binned(ref_fine, cur_fine)
        test = "ks"
    else:
        ref_buckets = np.append(ref_fine, [reference.unseen, reference.missing])
        cur_buckets = np.append(cur_fine, [window.unseen, window.missing])
        statistic, p_value = chi2_from_counts(ref_buckets, cur_buckets)
        test = "chi2"
    psi = psi_from_counts(ref_buckets, cur_buckets)
    js = _js(ref_buckets, cur_buckets)
    rows = window.rows
    test_drifted = p_value < P_VALUE_MAX if rows <= SMALL_WINDOW else js >= JS_DISTANCE_MAX
    severity: Severity = "error" if psi >= psi_error else "warn" if psi >= psi_warn else "ok"
    return FeatureStats(
        column=reference.column,
        kind=reference.kind,
        psi=round(psi, 6),
        test=test,
        statistic=round(statistic, 6),
        p_value=p_value,
        js_distance=round(js, 6),
        reference_missing_share=reference.missing / max(reference.rows, 1),
        current_missing_share=window.missing / max(rows, 1),
        psi_warn=psi_warn,
        psi_error=psi_error,
        severity=severity,
        test_drifted=bool(test_drifted),
        drifted=bool(test_drifted or psi >= psi_error),
    )
