"""The drift time series: each window's per-feature results appended to one Delta table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from aurora_pipelines.lake import delta


def append_window(
    path: Path,
    features: pd.DataFrame,
    *,
    window: str,
    model_version: str,
    drift_share: float,
    commit_info: dict[str, str] | None = None,
) -> int:
    """Append one window (one row per feature) and return the table's new version."""
    rows = features.copy()
    rows.insert(0, "window", window)
    rows.insert(1, "computed_at", datetime.now(UTC).replace(tzinfo=None))
    rows["model_version"] = str(model_version)
    rows["drift_share"] = float(drift_share)
    return delta.write_table(path, rows, mode="append", commit_info=commit_info)
