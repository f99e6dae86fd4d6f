"""The retraining signals of the windows appended to the drift and performance series.

The drift sensor judges what the monitoring stages wrote to their Delta series (`stage.py`,
`series.py`), not what an asset's metadata happens to say. Its cursor is each series' Delta
version: every commit after it is read — the files it added to the table — so two windows
appended between two ticks, e.g. a backfill of an earlier day, are both judged, in commit
order. The series are append-only; a commit that rewrote files would be judged again.

Without a cursor (the sensor's first tick) only each series' latest commit is judged: turning
the sensor on must not retrain on a window of months ago. The same holds when the cursor's
version has left the Delta log (log retention), and for cursors of earlier sensor versions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from aurora_pipelines.errors import DataError
from aurora_pipelines.monitoring.retrain_policy import Signal, drift_signal, performance_signal
from aurora_pipelines.specs import MonitoringSpec

DRIFT, PERFORMANCE = "drift", "performance"
CURSOR_KEY = "series_versions"  # marks a cursor of Delta versions (earlier ones held event ids)
DRIFT_COLUMNS = ("window", "computed_at", "drift_share", "rows")
PERFORMANCE_COLUMNS = ("window", "computed_at", "metric", "drop", "labelled_rows")
RUN_ID_KEY = "dagster_run_id"  # the commit metadata the monitoring assets stamp


def latest_signals(
    drift_path: Path,
    performance_path: Path,
    since: dict[str, Any] | None,
    monitoring: MonitoringSpec,
) -> tuple[list[Signal], dict[str, Any]]:
    """One signal per window appended to either series after cursor `since`, oldest commit
    first, and the new cursor (a JSON-able dict to hand back next time)."""
    versions = (since or {}).get(CURSOR_KEY)
    versions = dict(versions) if isinstance(versions, dict) else None
    signals: list[Signal] = []
    cursor: dict[str, int] = {}
    for kind, path in ((DRIFT, drift_path), (PERFORMANCE, performance_path)):
        # A series absent at the last tick is new since: all of it counts.
        after = None if versions is None else versions.get(kind, -1)
        commits, latest = appended_commits(Path(path), after)
        columns, judge = _JUDGES[kind]
        for version, run_id, rows in commits:
            _require(path, rows, columns)
            signals.extend(
                signal.model_copy(update={"series_version": version, "run_id": run_id})
                for signal in judge(rows, monitoring)
            )
        if latest is not None:
            cursor[kind] = latest
    return signals, {CURSOR_KEY: cursor}


def appended_commits(
    path: Path, after: int | None
) -> tuple[list[tuple[int, str | None, pd.DataFrame]], int | None]:
    """(version, writing run id, rows added) of each commit after version `after` (None: the
    latest commit only), and the table's current version (None: no table)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    from aurora_pipelines.lake import delta

    if not delta.is_delta_table(path):
        return [], after
    table = DeltaTable(str(path))
    current = table.version()
    first = current if after is None else after + 1
    if first > current:
        return [], current
    try:
        before = DeltaTable(str(path), version=first - 1) if first > 0 else None
    except DeltaError:  # the version left the log: judge the latest commit
        first, before = current, DeltaTable(str(path), version=current - 1) if current else None
    history = {h["version"]: h for h in table.history(limit=current - first + 1)}
    seen = set(before.file_uris()) if before is not None else set()
    commits = []
    for version in range(first, current + 1):
        table.load_as_version(version)
        files = table.file_uris()
        added = [f for f in files if f not in seen]
        seen = set(files)
        if added:
            commits.append((version, history.get(version, {}).get(RUN_ID_KEY), _read(added)))
    return commits, current


def _read(files: list[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq

    # File by file: a later engine version may have merged new columns into the schema.
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def _require(path: Path, rows: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        raise DataError(
            f"the series {path} lacks column(s) {', '.join(missing)}; it was not written by "
            "the monitoring stage (monitoring/stage.py) — rematerialize the window"
        )


def _drift_signals(rows: pd.DataFrame, monitoring: MonitoringSpec) -> list[Signal]:
    signals = []
    # One row per feature; a window's rows share its window-level values.
    for (window, _), group in rows.groupby(["window", "computed_at"], sort=True):
        first = group.iloc[0]
        signals.append(
            drift_signal(str(window), float(first["drift_share"]), int(first["rows"]), monitoring)
        )
    return signals


def _performance_signals(rows: pd.DataFrame, monitoring: MonitoringSpec) -> list[Signal]:
    signals = []
    for row in rows.sort_values("computed_at").to_dict("records"):
        drop = None if pd.isna(row["drop"]) else float(row["drop"])
        signals.append(
            performance_signal(
                str(row["window"]), str(row["metric"]), drop, int(row["labelled_rows"]), monitoring
            )
        )
    return signals


# Per series: the columns its rows must carry, and its windows' signals (oldest first).
_Judge = Callable[[pd.DataFrame, MonitoringSpec], list[Signal]]
_JUDGES: dict[str, tuple[tuple[str, ...], _Judge]] = {
    DRIFT: (DRIFT_COLUMNS, _drift_signals),
    PERFORMANCE: (PERFORMANCE_COLUMNS, _performance_signals),
}
