"""`aurora status`: where one experiment stands, from the registry, governance and lake."""

from __future__ import annotations

from typing import Any, NamedTuple

from rich.console import Console
from rich.table import Table

from aurora_pipelines import lifecycle
from aurora_pipelines.settings import Settings
from aurora_pipelines.specs import find_spec


def experiment_status(settings: Settings, name: str) -> dict[str, Any]:
    from aurora_pipelines.governance.sqlite_reads import read_requests

    spec = find_spec(settings.experiments_dir, name)
    uri = settings.tracking_uri
    latest, aliases = _registry_view(uri, spec.name)
    requests = read_requests(settings, experiment=spec.name)
    return {
        "experiment": spec.name,
        "team": spec.team,
        "owner": spec.owner,
        "model": {
            "name": spec.name,
            "version": latest.version if latest else None,
            "metrics": dict(latest.metrics) if latest else {},
            "primary_metric": spec.training.primary_metric,
        },
        "approvals": [
            {
                "id": r.id,
                "gate": r.gate,
                "status": r.status,
                "model_version": r.model_version,
                "requested_by": r.requested_by,
                "decided_by": r.decided_by,
            }
            for r in requests
        ],
        "deployment": {
            "staging": aliases.get("staging"),
            "production": aliases.get("champion"),
            "fallback": aliases.get("fallback"),
        },
        "drift": _latest_drift(settings, spec.name),
        "health": _health(settings, spec.name),
    }


def _health(settings: Settings, name: str) -> dict[str, Any] | None:
    """The latest score the daily workspace/health asset recorded (None before its first run)."""
    from aurora_pipelines.governance import sqlite_reads

    answered, health = sqlite_reads.latest_health(settings.governance_db_url, name)
    if answered:
        return health
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.workspace.health import latest_health
    from aurora_pipelines.workspace.store import WorkspaceStore

    return latest_health(WorkspaceStore(GovernanceStore.from_settings(settings)), name)


def _registry_view(uri: str, name: str) -> tuple[_Latest | None, dict[str, str]]:
    """The newest version (with its run's metrics) and the aliases of model `name`: by SQL on
    MLflow's tables when that applies (no MLflow import: `aurora status` answers in under a
    second), else through MlflowClient."""
    from aurora_pipelines.registry.sql_registry import sql_registry

    fast = sql_registry(uri)
    if fast is not None:
        view = fast.routing_view(name)
        row = fast.latest_version(name) if view is not None else None
        latest = None
        if row is not None:
            metrics = fast.run_metrics(row.run_id)
            # Per-fold series are `cv_*`; the run's summary metrics are the CV means.
            latest = _Latest(row.version, {k: v for k, v in metrics.items() if k[:3] != "cv_"})
        return latest, view[0] if view is not None else {}
    from aurora_pipelines.registry import mlflow_registry

    found = mlflow_registry.latest_version(uri, name)
    aliases = {
        alias: version
        for alias in ("staging", "champion", "fallback")
        if (version := mlflow_registry.get_alias_version(uri, name, alias)) is not None
    }
    return (_Latest(found.version, dict(found.metrics)) if found else None), aliases


class _Latest(NamedTuple):
    version: str
    metrics: dict[str, float]


def _latest_drift(settings: Settings, name: str) -> dict[str, Any]:
    path = settings.lake_dir.joinpath(name, *lifecycle.DRIFT)
    # No transaction log, no table: answer without importing deltalake and pandas (~0.7 s).
    if not path.joinpath("_delta_log").is_dir():
        return {"drift_share": None, "dataset_drift": None, "report": None, "window": None}
    from aurora_pipelines.lake import delta

    if not delta.is_delta_table(path):
        return {"drift_share": None, "dataset_drift": None, "report": None, "window": None}
    from aurora_pipelines.monitoring.reference import is_score_feature
    from aurora_pipelines.monitoring.series import latest_window

    latest = latest_window(path)
    reports = sorted(settings.reports_dir.joinpath(name, "drift").glob("drift_*.html"))
    drift_share = float(latest["drift_share"].iloc[0])
    return {
        "window": str(latest["window"].iloc[0]),
        "drift_share": drift_share,
        "drifted_features": sorted(
            latest.loc[
                latest["drifted"] & ~latest["column"].map(is_score_feature), "column"
            ].tolist()
        ),
        "report": str(reports[-1]) if reports else None,
        "table": str(path),
    }


def render_status(data: dict[str, Any], console: Console) -> None:
    model = data["model"]
    metric = model["primary_metric"]
    value = model["metrics"].get(metric)
    console.print(f"[bold]{data['experiment']}[/bold] (team {data['team']}, owner {data['owner']})")
    console.print(
        f"  model: v{model['version'] or '-'}  {metric}={value:.4f}"
        if value is not None
        else f"  model: {model['version'] or '-'}"
    )
    deployment = data["deployment"]
    console.print(
        f"  staging: v{deployment['staging'] or '-'}   production (champion): "
        f"v{deployment['production'] or '-'}"
    )
    drift = data["drift"]
    if drift.get("drift_share") is not None:
        console.print(
            f"  drift: share {drift['drift_share']:.2f} "
            f"({', '.join(drift['drifted_features']) or 'no feature drifted'})"
        )
        console.print(f"  drift report: {drift['report']}")
    health = data.get("health")
    if health is not None:
        parts = ", ".join(
            f"{name} {'n/a' if c['score'] is None else round(c['score'])}"
            for name, c in health["breakdown"].items()
        )
        console.print(f"  health: {health['score']}/100 ({parts}) at {health['computed_at']}")
    table = Table(
        "id", "gate", "version", "status", "requested_by", "decided_by", title="approvals"
    )
    for a in data["approvals"]:
        table.add_row(
            str(a["id"]),
            a["gate"],
            str(a["model_version"]),
            a["status"],
            a["requested_by"],
            a["decided_by"] or "",
        )
    console.print(table)
