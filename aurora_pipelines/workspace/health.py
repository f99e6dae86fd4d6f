"""Health score (0-100) of an experiment, with its breakdown.

Six components, each 0-100 or n/a (no evidence yet: not counted, and said so): data quality
(the profile's score), model metric vs its bar (the latest candidate against the bound it was
judged by), drift state (latest drift share vs the spec's thresholds), freshness of the batch
scores, approval state and revalidation due. The score is the weighted mean of the components
with evidence (0 when none has any). Recorded daily by the `workspace/health` asset.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from aurora_pipelines import lifecycle
from aurora_pipelines.results import JsonValue, Markdown, MetadataDict
from aurora_pipelines.specs import ExperimentSpec, find_spec, load_specs
from aurora_pipelines.workspace.tables import experiment_health

if TYPE_CHECKING:
    from aurora_pipelines.settings import Settings
    from aurora_pipelines.workspace.store import WorkspaceStore

WEIGHTS = {
    "data_quality": 20,
    "metric_vs_bar": 25,
    "drift_state": 20,
    "score_freshness": 15,
    "approval_state": 10,
    "revalidation_due": 10,
}
REVALIDATION_WARN_DAYS = 30


@dataclass(frozen=True)
class Component:
    name: str
    score: float | None  # None: no evidence yet
    weight: int
    detail: str
    state: str = ""


@dataclass(frozen=True)
class Health:
    experiment: str
    score: int
    components: list[Component]
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "score": self.score,
            "computed_at": self.computed_at.isoformat(),
            "components": [asdict(c) for c in self.components],
        }

    def breakdown(self) -> dict[str, Any]:
        return {
            c.name: {"score": c.score, "state": c.state, "detail": c.detail}
            for c in self.components
        }


def combine(experiment: str, components: list[Component]) -> Health:
    counted = [c for c in components if c.score is not None]
    weight = sum(c.weight for c in counted)
    score = round(sum(c.score * c.weight for c in counted) / weight) if weight else 0
    return Health(experiment, int(score), components)


def _data_quality(settings: Settings, spec: ExperimentSpec) -> Component:
    from aurora_pipelines.profiling.experiment import latest_quality_score

    value = latest_quality_score(settings, spec.name)
    if value is None:
        return Component("data_quality", None, WEIGHTS["data_quality"], "never profiled")
    bar = spec.profiling.quality_min
    return Component(
        "data_quality",
        float(value),
        WEIGHTS["data_quality"],
        f"profile quality {value:.1f} (spec minimum {bar})",
        "ok" if value >= bar else "below_minimum",
    )


def _metric_vs_bar(
    settings: Settings, workspace: WorkspaceStore, spec: ExperimentSpec
) -> Component:
    weight = WEIGHTS["metric_vs_bar"]
    candidate = workspace.governance.latest_candidate(spec.name)
    if candidate is None or candidate.metric_value is None:
        return Component("metric_vs_bar", None, weight, "never trained")
    from aurora_pipelines.registry import mlflow_registry
    from aurora_pipelines.registry.model_version import metric_direction

    bound = spec.training.metric_min
    if bound is None:
        tags = mlflow_registry.version_tags(
            settings.tracking_uri, candidate.model_name, candidate.model_version
        )
        bound = float(tags["aurora.metric_bound"]) if tags.get("aurora.metric_bound") else None
    value = candidate.metric_value
    metric = candidate.primary_metric
    if bound is None:
        return Component("metric_vs_bar", None, weight, f"{metric} {value:.4f}, no bound recorded")
    higher = metric_direction(metric, spec.problem_type.value)
    meets = value >= bound if higher else value <= bound
    # Meeting the bar is 100; a miss loses score in proportion to the shortfall.
    shortfall = abs(value - bound) / (abs(bound) or 1.0)
    score = 100.0 if meets else max(0.0, 60.0 * (1 - shortfall))
    return Component(
        "metric_vs_bar",
        score,
        weight,
        f"v{candidate.model_version} {metric} {value:.4f} vs bound {bound:.4f}",
        "meets" if meets else "misses",
    )


def _drift(settings: Settings, spec: ExperimentSpec) -> Component:
    from aurora_pipelines.status import _latest_drift

    weight = WEIGHTS["drift_state"]
    path = settings.lake_dir.joinpath(spec.name, *lifecycle.DRIFT)
    if not path.exists():
        return Component("drift_state", None, weight, "no drift report", "no report")
    share = _latest_drift(settings, spec.name).get("drift_share")
    if share is None:
        return Component("drift_state", None, weight, "no drift report", "no report")
    monitoring = spec.monitoring
    if share > monitoring.drift_share_max:
        score, state = 0.0, "drifting"
    elif share > monitoring.drift_share_warn:
        score, state = 50.0, "warn"
    else:
        score, state = 100.0, "stable"
    return Component("drift_state", score, weight, f"drift share {share:.2f}", state)


def _freshness(settings: Settings, spec: ExperimentSpec, now: datetime) -> Component:
    from aurora_pipelines.lake import delta

    weight = WEIGHTS["score_freshness"]
    path = settings.lake_dir.joinpath(spec.name, *lifecycle.BATCH_SCORES)
    if not delta.is_delta_table(path):
        return Component("score_freshness", None, weight, "no batch scores")
    log = sorted((path / "_delta_log").glob("*.json"))
    written = datetime.fromtimestamp(log[-1].stat().st_mtime, UTC) if log else now
    age = now - written
    score = 100.0 if age <= timedelta(days=1) else 50.0 if age <= timedelta(days=3) else 0.0
    hours = age.total_seconds() / 3600
    return Component("score_freshness", score, weight, f"batch scores {hours:.0f} h old")


def _approvals(workspace: WorkspaceStore, spec: ExperimentSpec, now: datetime) -> list[Component]:
    requests = workspace.governance.list_requests(experiment=spec.name)
    weights = WEIGHTS["approval_state"], WEIGHTS["revalidation_due"]
    if not requests:
        return [
            Component("approval_state", None, weights[0], "no approval requested"),
            Component("revalidation_due", None, weights[1], "nothing approved"),
        ]
    latest = requests[-1]
    score = {"approved": 100.0, "pending": 60.0}.get(latest.status, 20.0)
    approval = Component(
        "approval_state",
        score,
        weights[0],
        f"{latest.gate} request #{latest.id} v{latest.model_version}: {latest.status}",
        latest.status,
    )
    approved = [r for r in requests if r.status == "approved"]
    if not approved:
        return [approval, Component("revalidation_due", None, weights[1], "nothing approved")]
    due = workspace.governance.revalidation_due(approved[-1])
    if due is None:
        reval = Component("revalidation_due", 100.0, weights[1], "no revalidation required")
    elif due <= now:
        reval = Component(
            "revalidation_due", 0.0, weights[1], f"overdue since {due:%Y-%m-%d}", "overdue"
        )
    elif due - now <= timedelta(days=REVALIDATION_WARN_DAYS):
        reval = Component("revalidation_due", 50.0, weights[1], f"due {due:%Y-%m-%d}", "due_soon")
    else:
        reval = Component("revalidation_due", 100.0, weights[1], f"due {due:%Y-%m-%d}", "ok")
    return [approval, reval]


def compute_health(
    settings: Settings, workspace: WorkspaceStore, spec: ExperimentSpec, now: datetime | None = None
) -> Health:
    now = now or datetime.now(UTC)
    components = [
        _data_quality(settings, spec),
        _metric_vs_bar(settings, workspace, spec),
        _drift(settings, spec),
        _freshness(settings, spec, now),
        *_approvals(workspace, spec, now),
    ]
    return combine(spec.name, components)


def record_health(workspace: WorkspaceStore, health: Health) -> None:
    with workspace.engine.begin() as conn:
        conn.execute(
            sa.insert(experiment_health).values(
                experiment=health.experiment,
                score=health.score,
                breakdown=json.dumps(health.breakdown(), default=str),
                computed_at=health.computed_at,
            )
        )


def refresh_health(settings: Settings, workspace: WorkspaceStore, name: str) -> Health:
    health = compute_health(settings, workspace, find_spec(settings.experiments_dir, name))
    record_health(workspace, health)
    return health


@dataclass(frozen=True)
class HealthRefresh:
    """What the daily `workspace/health` asset produced: one score per experiment."""

    scores: list[Health]
    failures: dict[str, str] = field(default_factory=dict)

    def as_metadata(self) -> MetadataDict:
        rows = "\n".join(
            f"| {h.experiment} | {h.score} | "
            + ", ".join(
                f"{c.name} {'n/a' if c.score is None else round(c.score)}" for c in h.components
            )
            + " |"
            for h in self.scores
        )
        return {
            "experiments": len(self.scores),
            "scores": JsonValue({h.experiment: h.score for h in self.scores}),
            "breakdown": Markdown("| experiment | health | components |\n|---|---|---|\n" + rows),
            "failures": JsonValue(self.failures),
        }

    def checks(self) -> list:
        return []


def refresh_all(settings: Settings, workspace: WorkspaceStore) -> HealthRefresh:
    """Score and record every active experiment (archived ones keep their last score)."""
    scores, failures = [], {}
    for spec in load_specs(settings.experiments_dir):
        if spec.archived is not None:
            continue
        try:
            health = compute_health(settings, workspace, spec)
        except Exception as exc:  # one unreadable store entry must not hide every other score
            failures[spec.name] = f"{type(exc).__name__}: {exc}"
            continue
        record_health(workspace, health)
        scores.append(health)
    return HealthRefresh(scores, failures)


def latest_health(workspace: WorkspaceStore, experiment: str) -> dict[str, Any] | None:
    with workspace.engine.connect() as conn:
        row = conn.execute(
            sa.select(experiment_health)
            .where(experiment_health.c.experiment == experiment)
            .order_by(experiment_health.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    return {
        "score": row.score,
        "computed_at": str(row.computed_at),
        "breakdown": json.loads(row.breakdown),
    }
