"""The prediction log: one row per model answer, a Delta table per experiment.

Written by the scoring service in micro-batches off the request path; read by the canary
controller (deploy/), drift and performance monitoring (monitoring/). This module owns the
schema, so writers and readers agree on it.

Location: `<AURORA_HOME>/lake/<experiment>/serve/prediction_log`, partitioned by `date`
(UTC day of `ts`, `YYYY-MM-DD`), so a daily window reads one partition.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

PARTITION_COLUMN = "date"

PREDICTION_LOG_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),  # one per HTTP request
        pa.field("record_index", pa.int32(), nullable=False),  # position in a batch request
        pa.field("entity_id", pa.string()),  # the spec's id_column value, when sent
        pa.field("experiment", pa.string(), nullable=False),
        pa.field("model_name", pa.string(), nullable=False),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),  # champion|challenger|fallback|shadow
        pa.field("served", pa.bool_(), nullable=False),  # False for shadow answers
        pa.field("status", pa.string(), nullable=False),  # ok | error
        pa.field("error", pa.string()),
        pa.field("score", pa.float64()),  # probability of the positive class / regression value
        pa.field("prediction", pa.float64()),  # thresholded label / regression value
        pa.field("latency_ms", pa.float64(), nullable=False),  # model time for the request
        pa.field("inputs", pa.string(), nullable=False),  # the record as JSON (signature fields)
        pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field(PARTITION_COLUMN, pa.string(), nullable=False),
    ]
)
COLUMNS = PREDICTION_LOG_SCHEMA.names


def prediction_log_path(lake_dir: Path, experiment: str) -> Path:
    from aurora_pipelines.lake.layout import LakeLayout

    return LakeLayout(Path(lake_dir).parent).prediction_log(experiment)
