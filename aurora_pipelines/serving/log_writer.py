"""Append prediction-log rows to Delta in micro-batches, from a background thread.

The request path only puts finished rows on a queue (microseconds); a writer thread commits
them per experiment every `flush_rows` rows or `flush_ms` milliseconds, whichever comes
first. `close()` drains the queue and commits the rest, so a clean shutdown loses nothing.
Schema and location are the contract of `prediction_log.py`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa

from aurora_pipelines.serving.prediction_log import (
    PARTITION_COLUMN,
    PREDICTION_LOG_SCHEMA,
    prediction_log_path,
)

log = logging.getLogger(__name__)
_STOP = object()


class PredictionLogWriter:
    """Background micro-batch writer of prediction-log rows (dicts keyed by schema column)."""

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

    def put(self, rows: list[dict[str, Any]]) -> None:
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
        buffer: list[dict[str, Any]] = []
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

    def _flush(self, rows: list[dict[str, Any]]) -> None:
        by_experiment: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            by_experiment[row["experiment"]].append(row)
        for experiment, batch in by_experiment.items():
            try:
                write_rows(prediction_log_path(self.lake_dir, experiment), batch)
                self.rows_written += len(batch)
            except Exception:  # keep serving; the failure is visible in logs and metrics
                self.failed_batches += 1
                log.exception("prediction log: could not write %d rows", len(batch))


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append rows as one Delta commit, partitioned by `date`."""
    from deltalake import write_deltalake

    table = pa.Table.from_pylist(rows, schema=PREDICTION_LOG_SCHEMA)
    Path(path).mkdir(parents=True, exist_ok=True)
    write_deltalake(str(path), table, mode="append", partition_by=[PARTITION_COLUMN])
