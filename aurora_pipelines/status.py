"""`aurora status`: where one experiment stands, from the registry, governance and lake."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from aurora_pipelines import lifecycle
from aurora_pipelines.lake import delta
from aurora_pipelines.settings import Settings
from aurora_pipelines.specs import find_spec


def experiment_status(settings: Settings, name: str) -> dict[str, Any]:
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.registry import mlflow_registry

    spec = find_spec(settings.experiments_dir, name)
    uri = settings.tracking_uri
    latest = mlflow_registry.latest_version(uri, spec.name)
    requests = GovernanceStore.from_settings(settings).list_requests(experiment=spec.name)
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
            "staging": mlflow_registry.get_alias_version(uri, spec.name, "staging"),
            "production": mlflow_registry.get_alias_version(uri, spec.name, "champion"),
            "fallback": mlflow_registry.get_alias_version(uri, spec.name, "fallback"),
        },
        "drift": _latest_drift(settings, spec.name),
        "health": _health(settings, spec.name),
    }


def _health(settings: Settings, name: str) -> dict[str, Any] | None:
    """The latest score the daily workspace/health asset recorded (None before its first run)."""
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.workspace.health import latest_health
    from aurora_pipelines.workspace.store import WorkspaceStore

    return latest_health(WorkspaceStore(GovernanceStore.from_settings(settings)), name)


def _latest_drift(settings: Settings, name: str) -> dict[str, Any]:
    path = settings.lake_dir.joinpath(name, *lifecycle.DRIFT)
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
