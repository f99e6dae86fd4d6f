"""Feature drift between a reference batch (training data) and a current batch (scoring data).

Two views per feature, both kept in the result:
- Evidently 0.7's `DataDriftPreset`: a statistical test or distance chosen per column by
  Evidently (for <= 1000 rows: K-S / chi-square / Z-test p-values, drift when p < 0.05; above:
  Wasserstein distance (normed) / Jensen-Shannon distance, drift when >= 0.1). Its HTML report
  is written to `report_path`.
- our PSI (`psi.py`), drift when PSI > `psi_threshold`.
A feature is `drifted` when either says so; `drift_share` is the share of drifted features and
`dataset_drift` is `drift_share > drift_share_max`.

Which columns to compare is the caller's decision: pass `columns` without the id column,
the timestamp and the target (an increasing id or date always "drifts"). Date/time columns and
columns with no values in either batch are skipped (listed in `skipped`), because neither a
distribution test nor PSI on them says anything about the population.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from aurora_pipelines.errors import DataError
from aurora_pipelines.monitoring.psi import is_numeric, population_stability_index


class FeatureDrift(BaseModel):
    """Drift of one feature: Evidently's test and our PSI."""

    column: str
    kind: str  # "numeric" or "categorical"
    psi: float
    psi_drifted: bool
    test: str  # Evidently's method, e.g. "K-S p_value", "Wasserstein distance (normed)"
    score: float  # the test's value: a p-value or a distance, see `test`
    p_value: float | None  # `score` when the test yields a p-value, else None
    threshold: float
    test_drifted: bool
    drifted: bool


class DriftResult(BaseModel):
    """The drift of a batch: per-feature results and the dataset-level verdict."""

    drift_share: float
    dataset_drift: bool
    drift_share_max: float
    psi_threshold: float
    features: list[FeatureDrift]
    skipped: dict[str, str]
    evidently_drift_share: float
    reference_rows: int
    current_rows: int
    report_path: Path | None = None

    @property
    def drifted_columns(self) -> list[str]:
        return [f.column for f in self.features if f.drifted]

    def feature(self, column: str) -> FeatureDrift:
        for feature in self.features:
            if feature.column == column:
                return feature
        raise KeyError(column)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (the report path as a string)."""
        return self.model_dump(mode="json")

    def to_frame(self) -> pd.DataFrame:
        """One row per feature, for a Delta time series (the caller adds the window column)."""
        columns = list(FeatureDrift.model_fields)
        frame = pd.DataFrame([f.model_dump() for f in self.features], columns=columns)
        return frame.astype({"p_value": "float64"})


def _column_kind(reference: pd.Series, current: pd.Series) -> str | None:
    """'numeric', 'categorical', or None (skip: dates/times)."""
    for series in (reference, current):
        if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(
            series
        ):
            return None
        if series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) in (
            "date",
            "datetime",
            "datetime64",
            "time",
            "timedelta",
        ):
            return None
    return "numeric" if is_numeric(reference) and is_numeric(current) else "categorical"


def _as_categorical(series: pd.Series) -> pd.Series:
    # One representation for both batches: strings, with missing kept missing.
    return series.astype("object").where(series.isna(), series.astype(str))


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    psi_threshold: float = 0.2,
    drift_share_max: float = 0.3,
    report_path: Path | None = None,
) -> DriftResult:
    """Compare `current` to `reference` per feature (Evidently test + PSI); see module docstring."""
    if reference.empty or current.empty:
        empty = "reference" if reference.empty else "current"
        raise DataError(
            f"cannot compute drift: the {empty} batch has no rows; check the {empty} data window"
        )
    if columns is None:
        columns = [c for c in reference.columns if c in current.columns]
    missing = {
        name: [c for c in columns if c not in frame.columns]
        for name, frame in (("reference", reference), ("current", current))
    }
    if missing["reference"] or missing["current"]:
        where = "; ".join(f"{k}: {', '.join(v)}" for k, v in missing.items() if v)
        raise DataError(
            f"drift columns missing from the batches ({where}); "
            "pass only columns that both the reference and the current batch have"
        )

    kinds: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for column in columns:
        if reference[column].isna().all() or current[column].isna().all():
            skipped[column] = "no values in one of the batches"
            continue
        kind = _column_kind(reference[column], current[column])
        if kind is None:
            skipped[column] = "date/time column"
        else:
            kinds[column] = kind
    if not kinds:
        raise DataError(
            "cannot compute drift: no numeric or categorical columns to compare "
            f"(skipped: {', '.join(f'{c} ({r})' for c, r in skipped.items()) or 'none'}); "
            "pass feature columns in `columns`"
        )

    ref, cur = _prepare(reference, kinds), _prepare(current, kinds)
    tests, evidently_share = _evidently_drift(ref, cur, kinds, drift_share_max, report_path)

    features = []
    for column, kind in kinds.items():
        psi = population_stability_index(ref[column], cur[column], numeric=kind == "numeric")
        test = tests[column]
        psi_drifted = psi > psi_threshold
        features.append(
            FeatureDrift(
                column=column,
                kind=kind,
                psi=round(psi, 6),
                psi_drifted=psi_drifted,
                test=test["method"],
                score=test["score"],
                p_value=test["score"] if "p_value" in test["method"] else None,
                threshold=test["threshold"],
                test_drifted=test["drifted"],
                drifted=psi_drifted or test["drifted"],
            )
        )
    share = sum(f.drifted for f in features) / len(features)
    return DriftResult(
        drift_share=round(share, 6),
        dataset_drift=share > drift_share_max,
        drift_share_max=drift_share_max,
        psi_threshold=psi_threshold,
        features=features,
        skipped=skipped,
        evidently_drift_share=evidently_share,
        reference_rows=len(reference),
        current_rows=len(current),
        report_path=Path(report_path) if report_path is not None else None,
    )


def _prepare(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.to_numeric(frame[c], errors="coerce").astype("float64")
            if kind == "numeric"
            else _as_categorical(frame[c])
            for c, kind in kinds.items()
        }
    )


def _evidently_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    kinds: dict[str, str],
    drift_share_max: float,
    report_path: Path | None,
) -> tuple[dict[str, dict[str, Any]], float]:
    """Evidently's per-column drift (method, score, threshold, drifted) and its drift share."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    # An explicit definition: Evidently's own guess would make a low-cardinality integer
    # column categorical here and numeric in PSI.
    definition = DataDefinition(
        numerical_columns=[c for c, k in kinds.items() if k == "numeric"],
        categorical_columns=[c for c, k in kinds.items() if k == "categorical"],
    )
    report = Report(
        [DataDriftPreset(columns=list(kinds), drift_share=drift_share_max)], include_tests=True
    )
    snapshot = report.run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    if report_path is not None:
        report_path = Path(report_path)
        report_path.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(report_path))

    data = snapshot.dict()
    failed = {
        t["metric_config"]["params"].get("column")
        for t in data["tests"]
        if t["id"] == "drift" and str(t["status"]).endswith("FAIL")
    }
    results: dict[str, dict[str, Any]] = {}
    share = 0.0
    for metric in data["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            results[config["column"]] = {
                "method": str(config.get("method")),
                "score": float(metric["value"]),
                "threshold": float(config.get("threshold")),
                "drifted": config["column"] in failed,
            }
        elif config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
    return results, share
