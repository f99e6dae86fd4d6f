"""The data-quality score: 0-100, a weighted mean of five components, per column and per table.

Each component is the share of values (or cells, or rows) that pass one check, in [0, 1]:

- completeness (weight 0.35)
  column: rows that are not null (full table).  table: non-null cells / all cells.
- validity (0.25)
  column: non-null values valid for their type: not NaN or +-inf (floating point), not a blank
  string, and, for numbers or dates stored as text, values that parse (the unparseable share of
  the sample applied to the full-table count).  table: valid / non-null cells over all columns.
- uniqueness (0.15)
  column: the id column only: exact distinct / non-null.  table: (1 - share of duplicate rows
  in the sample, id column ignored) x the id column's uniqueness.
- consistency (0.15)
  column: 0 for a constant column (one distinct value, or none); else the share of values that
  do not collide with a more frequent spelling of the same category ("North" vs "north ").
  table: mean of the column scores.
- outliers (0.10)
  column: numeric only: sample values inside Tukey's fences (Q1 - 1.5 IQR, Q3 + 1.5 IQR).
  table: mean over numeric columns.

score = 100 * sum(w_k * s_k) / sum(w_k), over the components that apply. A component that does
not apply (uniqueness of a non-id column, outliers of a text column, validity of an all-null
column) is left out and the remaining weights are renormalised, so a column is never rewarded or
punished for a check that means nothing for it.

Why these weights: missing data is the most common and most damaging defect for modelling, then
values that cannot be used as their type; duplicates and inconsistent categories bias training
but are rarer; outliers are often genuine (incomes are skewed), so they weigh least.
Breakdowns are reported on the same 0-100 scale as the score.
"""

from __future__ import annotations

WEIGHTS: dict[str, float] = {
    "completeness": 0.35,
    "validity": 0.25,
    "uniqueness": 0.15,
    "consistency": 0.15,
    "outliers": 0.10,
}


def _share(part: float, whole: float) -> float:
    return 0.0 if whole <= 0 else min(1.0, max(0.0, part / whole))


def weighted_score(components: dict[str, float]) -> float:
    """0-100 score from component scores in [0, 1] (absent components don't count)."""
    applicable = {k: v for k, v in components.items() if k in WEIGHTS}
    total_weight = sum(WEIGHTS[k] for k in applicable)
    if total_weight == 0:
        return 0.0
    return round(100.0 * sum(WEIGHTS[k] * v for k, v in applicable.items()) / total_weight, 2)


def as_percent(components: dict[str, float]) -> dict[str, float]:
    return {k: round(100.0 * v, 2) for k, v in components.items()}


def column_components(
    *,
    rows: int,
    missing: int,
    invalid: float,
    is_identifier: bool,
    distinct_exact: int | None,
    is_constant: bool,
    inconsistent_share: float,
    outlier_share: float | None,
) -> dict[str, float]:
    """Component scores in [0, 1] for one column (see the module docstring for each check).

    `invalid` is the (possibly estimated) number of invalid non-null values in the full table;
    `distinct_exact` is the exact distinct count of an id column; `inconsistent_share` and
    `outlier_share` are shares of the sample.
    """
    non_null = rows - missing
    components = {"completeness": 1.0 - _share(missing, rows)}
    if non_null > 0:
        components["validity"] = 1.0 - _share(invalid, non_null)
    if is_identifier and distinct_exact is not None and non_null > 0:
        components["uniqueness"] = _share(distinct_exact, non_null)
    components["consistency"] = 0.0 if is_constant else 1.0 - min(1.0, inconsistent_share)
    if outlier_share is not None:
        components["outliers"] = 1.0 - min(1.0, outlier_share)
    return components


def table_components(
    *,
    rows: int,
    missing: list[int],
    invalid: list[float],
    consistency: list[float],
    outliers: list[float],
    duplicate_row_share: float,
    id_uniqueness: float | None,
) -> dict[str, float]:
    """Component scores in [0, 1] for the table, from the per-column inputs."""
    cells = rows * len(missing)
    non_null = cells - sum(missing)
    components = {"completeness": 1.0 - _share(sum(missing), cells)}
    if non_null > 0:
        components["validity"] = 1.0 - _share(sum(invalid), non_null)
    uniqueness = 1.0 - min(1.0, duplicate_row_share)
    if id_uniqueness is not None:
        uniqueness *= id_uniqueness
    components["uniqueness"] = uniqueness
    if consistency:
        components["consistency"] = sum(consistency) / len(consistency)
    if outliers:
        components["outliers"] = sum(outliers) / len(outliers)
    return components
