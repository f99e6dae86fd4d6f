"""Drift and performance over time, read back from the monitoring series (Delta tables).

Each series gains rows per window (a day); a window recomputed later keeps its newest
computation. Dashboards and the drift asset's plots read these, never the event log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aurora_pipelines.lake import delta


@dataclass(frozen=True)
class WindowPoint:
    window: str
    value: float
    label: str = ""  # the metric's name for performance points


def _latest(path: Path, columns: list[str]):
    if not delta.is_delta_table(path):
        return None
    frame = delta.read_pandas(path, columns=columns)
    if frame.empty:
        return None
    frame = frame.sort_values(["window", "computed_at"])
    return frame.groupby("window", sort=True).tail(1)


def drift_history(series: Path) -> list[WindowPoint]:
    """Drift share per window, oldest first (empty before the first window)."""
    latest = _latest(series, ["window", "computed_at", "drift_share"])
    if latest is None:
        return []
    return [WindowPoint(str(r.window), float(r.drift_share)) for r in latest.itertuples()]


def performance_history(series: Path) -> list[WindowPoint]:
    """The primary metric's value per labelled window, oldest first."""
    latest = _latest(series, ["window", "computed_at", "metric", "value"])
    if latest is None:
        return []
    return [WindowPoint(str(r.window), float(r.value), str(r.metric)) for r in latest.itertuples()]
