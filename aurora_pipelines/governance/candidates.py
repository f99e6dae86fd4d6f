"""Training candidates: the model version train/model produced, as an explicit record.

The staging gate (deploy/promotion.py `candidate_for_gate`) decides on the newest candidate of
its experiment. Before this record it took the newest registered version, so a version
registered by anything else (another experiment sharing the model name, a manual
`mlflow` registration) became the candidate without anyone noticing. Each row is committed in
the same transaction as its audit row (`candidate_recorded`), so neither exists alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from aurora_pipelines.governance import audit
from aurora_pipelines.governance.models import training_candidates
from aurora_pipelines.governance.rows import insert_audited, row_data

CANDIDATE_RECORDED = "candidate_recorded"


@dataclass(frozen=True)
class CandidateRecord:
    """One version train/model registered, with what it was trained on and by which runs."""

    id: int
    experiment: str
    model_name: str
    model_version: str
    model_digest: str
    primary_metric: str
    metric_value: float | None
    mlflow_run_id: str
    dagster_run_id: str | None
    correlation_id: str | None
    created_by: str
    created_at: datetime
    audit_seq: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data


def _record(row: sa.Row) -> CandidateRecord:
    return CandidateRecord(**row_data(row, "created_at"))


def record_candidate(
    engine: sa.Engine,
    *,
    experiment: str,
    model_name: str,
    model_version: str,
    model_digest: str,
    primary_metric: str,
    mlflow_run_id: str,
    created_by: str,
    metric_value: float | None = None,
    dagster_run_id: str | None = None,
    correlation_id: str | None = None,
) -> CandidateRecord:
    """Store the candidate and its audit row atomically; returns the stored record."""
    values = {
        "experiment": experiment,
        "model_name": model_name,
        "model_version": str(model_version),
        "model_digest": model_digest,
        "primary_metric": primary_metric,
        "metric_value": None if metric_value is None else float(metric_value),
        "mlflow_run_id": mlflow_run_id,
        "dagster_run_id": dagster_run_id,
        "correlation_id": correlation_id,
        "created_by": created_by,
    }

    def work(conn: sa.Connection) -> CandidateRecord:
        row = insert_audited(
            conn,
            training_candidates,
            values,
            event=CANDIDATE_RECORDED,
            actor_column="created_by",
            time_column="created_at",
            target=f"model/{model_name}/{model_version}",
        )
        return _record(row)

    return audit.transact(engine, work)


def latest_candidate(
    engine: sa.Engine, experiment: str, model_name: str | None = None
) -> CandidateRecord | None:
    """The newest candidate of `experiment` (and of `model_name`, when given), or None."""
    t = training_candidates.c
    query = sa.select(training_candidates).where(t.experiment == experiment)
    if model_name is not None:
        query = query.where(t.model_name == model_name)
    with engine.connect() as conn:
        row = conn.execute(query.order_by(t.id.desc()).limit(1)).first()
    return None if row is None else _record(row)
