"""A small code location for the daemon tests (test_daemon_runs.py): one job that appends rows
to a Delta table through Aurora's writer, slowly when asked, plus Aurora's run-failure sensor.
Run workers launched by `dagster-daemon` load it by file, as they load Aurora's location."""

import os
import time
from pathlib import Path

import dagster as dg
import pyarrow as pa

from aurora_pipelines.defs.resources.profiles import build_executor
from aurora_pipelines.defs.sensors.run_failure import build_run_failure_sensor
from aurora_pipelines.lake import delta


class WriteConfig(dg.Config):
    table: str
    writer: str
    batches: int = 1
    rows_per_batch: int = 1000
    # Seconds between batches: the write is still in flight when the test kills the worker.
    pause: float = 0.0
    # Touched once the first batch is handed to the writer (the test's moment to kill).
    marker: str = ""


def _batches(config: WriteConfig):
    for i in range(config.batches):
        if i == 1 and config.marker:
            Path(config.marker).write_text(str(os.getpid()))
        yield pa.record_batch({"writer": [config.writer] * config.rows_per_batch})
        time.sleep(config.pause)


@dg.op
def append_rows(config: WriteConfig) -> int:
    schema = pa.schema([("writer", pa.string())])
    reader = pa.RecordBatchReader.from_batches(schema, _batches(config))
    return delta.write_table(config.table, reader, mode="append")


# Aurora's executor (in process: the op runs in the run worker, as every Aurora step does).
@dg.job(executor_def=build_executor())
def append_job() -> None:
    append_rows()


defs = dg.Definitions(jobs=[append_job], sensors=[build_run_failure_sensor()])
