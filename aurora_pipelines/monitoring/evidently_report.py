"""Evidently 0.7's `DataDriftPreset` on bounded samples: its HTML report and drift share.

Aurora's own statistics (`statistics.py`) decide the verdict; Evidently's per-column tests and
its report are the second view approvers know. Column kinds are given to Evidently explicitly:
its own guess would make a low-cardinality integer column categorical here and numeric in PSI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def as_categorical(series: pd.Series) -> pd.Series:
    # One representation for both batches: strings, with missing kept missing.
    return series.astype("object").where(series.isna(), series.astype(str))


def prepare(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            c: pd.to_numeric(frame[c], errors="coerce").astype("float64")
            if kind == "numeric"
            else as_categorical(frame[c])
            for c, kind in kinds.items()
        }
    )


def evidently_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    kinds: dict[str, str],
    drift_share_max: float,
    report_path: Path | None,
    detail_columns: list[str] | None = None,
) -> tuple[dict[str, dict[str, Any]], float]:
    """Evidently's per-column drift (method, score, threshold, drifted) and its drift share.

    `detail_columns`: the columns that get the preset's per-column widgets (all by default).
    Those widgets (plotly figures) are most of the report's CPU whatever the sample size
    (benchmarks/profile_drift_report.py); the share always counts every column."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import DriftedColumnsCount
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=[c for c, k in kinds.items() if k == "numeric"],
        categorical_columns=[c for c, k in kinds.items() if k == "categorical"],
    )
    detail = list(kinds) if detail_columns is None else [c for c in kinds if c in detail_columns]
    # First metric: the share over all columns; the preset's own count covers `detail` only.
    metrics: list[Any] = [DriftedColumnsCount(columns=list(kinds), drift_share=drift_share_max)]
    if detail:
        metrics.append(DataDriftPreset(columns=detail, drift_share=drift_share_max))
    report = Report(metrics, include_tests=True)
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
    share: float | None = None
    for metric in data["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            results[config["column"]] = {
                "method": str(config.get("method")),
                "score": float(metric["value"]),
                "threshold": float(config.get("threshold")),
                "drifted": config["column"] in failed,
            }
        elif config["type"].endswith("DriftedColumnsCount") and share is None:
            share = float(metric["value"]["share"])
    return results, share or 0.0
