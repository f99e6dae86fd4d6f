"""The drift of one window against the training reference: features, predictions, verdict.

`window_drift` takes bucket counts (from `binning.count_spark` or `count_pandas`), so the
statistics never need the window's rows; Evidently's preset and HTML report run on bounded
samples only (`evidently_on_samples`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from aurora_pipelines.errors import DataError
from aurora_pipelines.monitoring.reference import BucketCounts, ReferenceProfile
from aurora_pipelines.monitoring.statistics import FeatureStats, Severity, feature_stats
from aurora_pipelines.specs import MonitoringSpec

EVIDENTLY_SAMPLE_ROWS = 20_000


class WindowDrift(BaseModel):
    """One window's drift: per feature, dataset-level and prediction drift."""

    window: str
    rows: int
    reference_rows: int
    features: list[FeatureStats]
    skipped: dict[str, str] = {}
    drift_share: float
    dataset_drift: bool  # drift_share above the ERROR level (drift_share_max)
    drift_share_warn: float
    drift_share_max: float
    severity: Severity
    prediction: FeatureStats | None = None  # score distribution vs the reference scores
    class_scores: list[FeatureStats] = []  # multiclass: each class's probability distribution
    evidently_drift_share: float | None = None
    report_path: str | None = None
    model_version: str | None = None
    sources: list[str] = []

    @property
    def drifted_columns(self) -> list[str]:
        return [f.column for f in self.features if f.drifted]

    def feature(self, column: str) -> FeatureStats:
        for feature in self.features:
            if feature.column == column:
                return feature
        raise KeyError(column)

    def to_frame(self) -> pd.DataFrame:
        """One row per feature (and `__score__` rows for prediction drift)."""
        rows = [f.model_dump() for f in self.features]
        if self.prediction is not None:
            rows.append(self.prediction.model_dump())
        rows.extend(f.model_dump() for f in self.class_scores)
        frame = pd.DataFrame(rows, columns=list(FeatureStats.model_fields))
        frame["window"] = self.window
        frame["rows"] = self.rows
        frame["drift_share"] = self.drift_share
        frame["dataset_drift"] = self.dataset_drift
        frame["window_severity"] = self.severity
        frame["evidently_drift_share"] = self.evidently_drift_share
        frame["report"] = self.report_path or ""
        frame["model_version"] = self.model_version or ""
        return frame.astype({"evidently_drift_share": "float64"})

    def summary(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def window_drift(
    reference: ReferenceProfile,
    counts: dict[str, BucketCounts],
    monitoring: MonitoringSpec,
    *,
    window: str,
    score_counts: BucketCounts | None = None,
    class_counts: dict[str, BucketCounts] | None = None,
) -> WindowDrift:
    """Statistics of every reference feature for one window, with the spec's thresholds."""
    rows = max((c.rows for c in counts.values()), default=0)
    if rows == 0:
        raise DataError(
            f"window {window} has no rows to compare with the reference; "
            "pick a window with batch scores or logged predictions"
        )
    features = []
    for feature in reference.features:
        warn, error = monitoring.psi_levels(feature.column)
        features.append(
            feature_stats(feature, counts[feature.column], psi_warn=warn, psi_error=error)
        )
    share = sum(f.drifted for f in features) / max(len(features), 1)
    severity: Severity = (
        "error"
        if share > monitoring.drift_share_max
        else "warn"
        if share > monitoring.drift_share_warn
        else "ok"
    )
    prediction = None
    if reference.score is not None and score_counts is not None and score_counts.rows:
        warn, error = monitoring.psi_levels(reference.score.column)
        prediction = feature_stats(reference.score, score_counts, psi_warn=warn, psi_error=error)
    class_scores = []
    for score in reference.class_scores:
        counts_of_class = (class_counts or {}).get(score.column)
        if counts_of_class is not None and counts_of_class.rows:
            warn, error = monitoring.psi_levels(score.column)
            class_scores.append(
                feature_stats(score, counts_of_class, psi_warn=warn, psi_error=error)
            )
    return WindowDrift(
        window=window,
        rows=rows,
        reference_rows=reference.rows,
        features=features,
        skipped=reference.skipped,
        drift_share=round(share, 6),
        dataset_drift=share > monitoring.drift_share_max,
        drift_share_warn=monitoring.drift_share_warn,
        drift_share_max=monitoring.drift_share_max,
        severity=severity,
        prediction=prediction,
        class_scores=class_scores,
        model_version=reference.model_version,
    )


def evidently_on_samples(
    reference_sample: pd.DataFrame,
    window_sample: pd.DataFrame,
    reference: ReferenceProfile,
    monitoring: MonitoringSpec,
    report_path: Path,
    detail_columns: list[str] | None = None,
) -> float:
    """Evidently's drift share over all columns + HTML report on bounded samples; the
    preset's per-column widgets only for `detail_columns` (all by default)."""
    from aurora_pipelines.monitoring.evidently_report import evidently_drift, prepare

    kinds = {f.column: f.kind for f in reference.features}
    ref, cur = prepare(reference_sample, kinds), prepare(window_sample, kinds)
    _, share = evidently_drift(
        ref, cur, kinds, monitoring.drift_share_max, report_path, detail_columns
    )
    return share
