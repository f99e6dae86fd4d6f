"""The monitoring series: each drift window's per-feature results, each performance window's
row, appended to one Delta table per kind (read back by `signals.py` and `aurora drift`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from aurora_pipelines.lake import delta

if TYPE_CHECKING:
    from aurora_pipelines.monitoring.performance import WindowPerformance


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
    if "window" in rows.columns:
        rows = rows.drop(columns=["window"])
    rows.insert(0, "window", window)
    rows.insert(1, "computed_at", datetime.now(UTC).replace(tzinfo=None))
    rows["model_version"] = str(model_version)
    rows["drift_share"] = float(drift_share)
    return append_rows(path, rows, commit_info)


def append_performance(
    path: Path, result: WindowPerformance, commit_info: dict[str, str] | None = None
) -> int:
    """Append one performance window (one row) and return the table's new version."""
    row = pd.DataFrame([result.model_dump()])
    row["computed_at"] = datetime.now(UTC).replace(tzinfo=None)
    return append_rows(path, row, commit_info)


def append_rows(path: Path, rows: pd.DataFrame, commit_info: dict[str, str] | None) -> int:
    import pyarrow as pa
    from deltalake import CommitProperties, DeltaTable, write_deltalake

    Path(path).mkdir(parents=True, exist_ok=True)
    # Columns added by later versions of the engine merge into the table's schema.
    write_deltalake(
        str(path),
        pa.Table.from_pandas(rows, preserve_index=False),
        mode="append",
        schema_mode="merge",
        commit_properties=CommitProperties(custom_metadata=commit_info) if commit_info else None,
    )
    return DeltaTable(str(path)).version()


def latest_window(path: Path, window: str | None = None) -> pd.DataFrame:
    """The rows of the latest computation of `window` (default: the latest window)."""
    frame = delta.read_pandas(path)
    if frame.empty:
        return frame
    if window is not None:
        frame = frame[frame["window"] == window]
        if frame.empty:
            return frame
    else:
        frame = frame[frame["window"] == frame["window"].max()]
    return frame[frame["computed_at"] == frame["computed_at"].max()].reset_index(drop=True)


def windows(path: Path) -> list[str]:
    """Every window in the series, oldest first."""
    return sorted(delta.read_pandas(path, columns=["window"])["window"].unique().tolist())
