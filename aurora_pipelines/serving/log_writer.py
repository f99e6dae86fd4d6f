"""Append prediction-log rows to Delta in micro-batches, from a background thread.

The request path only puts finished rows on a queue (microseconds); a writer thread commits
them per experiment every `flush_rows` rows or `flush_ms` milliseconds, whichever comes
first. `close()` drains the queue and commits the rest, so a clean shutdown loses nothing.
Schema and location are the contract of `prediction_log.py`.

Rows are tuples in schema order (`ts` as integer microseconds since the epoch), so a flush
is one `zip(*rows)` and one `pa.array` per column. Several service processes (`aurora serve
--workers N`) each run their own writer on the same table: Delta appends from different
processes commit one after the other; only the race to create the table can fail, and that
commit is retried against the table the other process made.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from aurora_pipelines.serving.prediction_log import (
    PARTITION_COLUMN,
    PREDICTION_LOG_SCHEMA,
    prediction_log_path,
)

Row = tuple[Any, ...]  # one value per PREDICTION_LOG_SCHEMA column, in its order
_EXPERIMENT = PREDICTION_LOG_SCHEMA.names.index("experiment")
_COMMIT_ATTEMPTS = 3

log = logging.getLogger(__name__)
_STOP = object()


class PredictionLogWriter:
    """Background micro-batch writer of prediction-log rows (tuples in schema order)."""

    def __init__(self, lake_dir: Path, *, flush_rows: int = 5000, flush_ms: int = 2000) -> None:
        self.lake_dir = Path(lake_dir)
        self.flush_rows = flush_rows
        self.flush_ms = flush_ms
        self.rows_written = 0
        self.failed_batches = 0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def put(self, rows: list[Row]) -> None:
        """Queue rows for the log (never blocks on IO)."""
        if rows:
            self._queue.put(rows)

    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float = 60.0) -> None:
        """Write everything queued so far, then stop the thread."""
        if self._started:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._started = False

    def _run(self) -> None:
        buffer: list[Row] = []
        deadline = time.monotonic() + self.flush_ms / 1000
        while True:
            timeout = max(deadline - time.monotonic(), 0.0)
            try:
                item = self._queue.get(timeout=timeout) if buffer else self._queue.get()
            except queue.Empty:
                item = None
            if item is _STOP:
                # Take whatever raced in before the stop marker too.
                while True:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is not _STOP:
                        buffer.extend(more)
                self._flush(buffer)
                return
            if item is not None:
                if not buffer:
                    deadline = time.monotonic() + self.flush_ms / 1000
                buffer.extend(item)
            if buffer and (len(buffer) >= self.flush_rows or time.monotonic() >= deadline):
                self._flush(buffer)
                buffer = []

    def _flush(self, rows: list[Row]) -> None:
        by_experiment: dict[str, list[Row]] = defaultdict(list)
        for row in rows:
            by_experiment[row[_EXPERIMENT]].append(row)
        for experiment, batch in by_experiment.items():
            try:
                write_rows(prediction_log_path(self.lake_dir, experiment), batch)
                self.rows_written += len(batch)
            except Exception:  # keep serving; the failure is visible in logs and metrics
                self.failed_batches += 1
                log.exception("prediction log: could not write %d rows", len(batch))


def to_micros(ts: datetime) -> int:
    """A timezone-aware datetime as integer microseconds since the epoch (the `ts` column)."""
    return int(ts.timestamp() * 1_000_000)


def rows_to_table(rows: list[Row]) -> pa.Table:
    """Tuples in schema order -> an Arrow table of PREDICTION_LOG_SCHEMA."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(PREDICTION_LOG_SCHEMA)
    return pa.Table.from_arrays(
        [
            pa.array(values, type=field.type)
            for values, field in zip(columns, PREDICTION_LOG_SCHEMA, strict=True)
        ],
        schema=PREDICTION_LOG_SCHEMA,
    )


def write_rows(path: Path, rows: list[Row]) -> None:
    """Append rows as one Delta commit, partitioned by `date`."""
    from deltalake import write_deltalake
    from deltalake.exceptions import CommitFailedError

    table = rows_to_table(rows)
    Path(path).mkdir(parents=True, exist_ok=True)
    for attempt in range(_COMMIT_ATTEMPTS):
        try:
            write_deltalake(str(path), table, mode="append", partition_by=[PARTITION_COLUMN])
            return
        except CommitFailedError:
            # Another service process created the table first: append to its table now.
            if attempt == _COMMIT_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
