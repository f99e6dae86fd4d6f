"""Deployment records: what serves a model in an environment, who changed it, when and why.

One row per change in the governance database's `deployments` table, committed in the same
transaction as its audit row (so neither exists without the other). The MLflow aliases are
what the scoring service reads; these rows are the history behind them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from aurora_pipelines.errors import SpecError
from aurora_pipelines.governance import audit
from aurora_pipelines.governance.models import STRATEGIES, deployments
from aurora_pipelines.governance.rows import insert_audited, row_data

# Audit events of deployment changes (the row's `action` is the event without the prefix).
EVENT_PREFIX = "deployment_"


@dataclass(frozen=True)
class DeploymentRecord:
    id: int
    experiment: str
    model_name: str
    environment: str
    strategy: str
    action: str
    champion_version: str | None
    challenger_version: str | None
    fallback_version: str | None
    shadow_version: str | None
    challenger_share: float
    bundle_uri: str | None
    deployed_by: str
    deployed_at: datetime
    correlation_id: str | None
    reason: str | None
    details: dict[str, Any] | None
    audit_seq: int

    @property
    def traffic_split(self) -> dict[str, float]:
        """Share of served traffic per version (shadow answers are never served)."""
        split: dict[str, float] = {}
        if self.champion_version:
            split[self.champion_version] = 1.0 - (
                self.challenger_share if self.challenger_version else 0.0
            )
        if self.challenger_version:
            split[self.challenger_version] = (
                split.get(self.challenger_version, 0.0) + self.challenger_share
            )
        return split

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["deployed_at"] = self.deployed_at.isoformat()
        data["traffic_split"] = self.traffic_split
        return data


def _record(row: sa.Row) -> DeploymentRecord:
    return DeploymentRecord(**row_data(row, "deployed_at"))


def record_deployment(
    engine: sa.Engine,
    *,
    experiment: str,
    model_name: str,
    environment: str,
    strategy: str,
    action: str,
    deployed_by: str,
    champion: str | None = None,
    challenger: str | None = None,
    fallback: str | None = None,
    shadow: str | None = None,
    challenger_share: float = 0.0,
    bundle_uri: str | None = None,
    correlation_id: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> DeploymentRecord:
    """Store one deployment change and its audit row (`deployment_<action>`) atomically."""
    if strategy not in STRATEGIES:
        raise SpecError(f"unknown deployment strategy '{strategy}'; use {', '.join(STRATEGIES)}")
    if not 0.0 <= challenger_share <= 1.0:
        raise SpecError(f"challenger share {challenger_share} is not between 0 and 1")
    values = {
        "experiment": experiment,
        "model_name": model_name,
        "environment": environment,
        "strategy": strategy,
        "action": action,
        "champion_version": champion,
        "challenger_version": challenger,
        "fallback_version": fallback,
        "shadow_version": shadow,
        "challenger_share": float(challenger_share),
        "bundle_uri": bundle_uri,
        "deployed_by": deployed_by,
        "correlation_id": correlation_id,
        "reason": reason,
        "details": details,
    }

    def work(conn: sa.Connection) -> DeploymentRecord:
        row = insert_audited(
            conn,
            deployments,
            values,
            event=EVENT_PREFIX + action,
            actor_column="deployed_by",
            time_column="deployed_at",
            target=f"model/{model_name}@{environment}",
        )
        return _record(row)

    return audit.transact(engine, work)


def list_deployments(
    engine: sa.Engine,
    model_name: str | None = None,
    environment: str | None = None,
    limit: int | None = None,
) -> list[DeploymentRecord]:
    """Deployment records, newest first."""
    t = deployments.c
    query = sa.select(deployments).order_by(t.id.desc())
    if model_name is not None:
        query = query.where(t.model_name == model_name)
    if environment is not None:
        query = query.where(t.environment == environment)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [_record(r) for r in conn.execute(query).all()]


def recorded_manifest_digest(records: list[DeploymentRecord], bundle_key: str) -> str | None:
    """The manifest digest the newest of `records` (newest first, as `list_deployments` returns
    them) stored for the bundle at `bundle_key` when a promotion built it; None if none did."""
    for record in records:
        details = record.details or {}
        if details.get("bundle_key") == bundle_key and details.get("manifest_digest"):
            return str(details["manifest_digest"])
    return None
