"""Prediction-log rows as tuples: the Arrow table they make, and concurrent appends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from deltalake import DeltaTable

from aurora_pipelines.serving.log_writer import rows_to_table, to_micros, write_rows
from aurora_pipelines.serving.prediction_log import PREDICTION_LOG_SCHEMA


def _row(request_id: str, ts: datetime, score: float | None = 0.25) -> tuple:
    return (
        request_id, 0, None, "credit", "credit", "1", "champion", True, "ok", None, score,
        1.0, 0.4, '{"age": 41}', to_micros(ts), ts.strftime("%Y-%m-%d"),
    )  # fmt: skip


def test_tuple_rows_become_the_log_schema_with_timestamps_and_nulls_kept():
    ts = datetime(2026, 12, 2, 7, 30, 1, 123456, tzinfo=UTC)
    table = rows_to_table([_row("a", ts), _row("b", ts, score=None)])
    assert table.schema == PREDICTION_LOG_SCHEMA
    assert table.column("ts").to_pylist() == [ts, ts]
    assert table.column("score").to_pylist() == [0.25, None]
    assert table.column("request_id").to_pylist() == ["a", "b"]
    assert rows_to_table([]).num_rows == 0


def test_writers_racing_to_create_the_table_lose_no_rows(tmp_path):
    """Like two `aurora serve` workers' first flushes: both append to a table not yet there."""
    path = tmp_path / "prediction_log"
    ts = datetime.now(UTC)
    gate = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        gate.wait()
        try:
            for i in range(3):
                write_rows(path, [_row(f"{k}-{i}", ts)])
        except BaseException as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    ids = DeltaTable(str(path)).to_pyarrow_table(columns=["request_id"]).column(0).to_pylist()
    assert sorted(ids) == sorted(f"{k}-{i}" for k in range(4) for i in range(3))
