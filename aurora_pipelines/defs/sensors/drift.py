"""Drift sensor: a new drift or performance window that crosses its threshold requests one
retraining run, under the rules of `aurora_pipelines.monitoring.retrain_policy` (cooldown,
at most one open retraining per experiment, minimum new data).

It reads the windows from the engine's Delta series (`monitoring.signals.latest_signals`),
every window appended since its last tick, not from materialization metadata. Each trigger
and each skip is written to the audit log with its reason. The retrained model is only a
candidate: it waits for the same staging and production approvals.
"""

import json
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.jobs import ExperimentJobs
from aurora_pipelines.defs.resources import (
    GovernanceResource,
    LakeResource,
    MlflowRegistryResource,
)
from aurora_pipelines.specs import ExperimentSpec

if TYPE_CHECKING:
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.monitoring.retrain_policy import RetrainState

OPEN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def retrain_state(
    context: dg.SensorEvaluationContext,
    store: "GovernanceStore",
    registry: MlflowRegistryResource,
    spec: ExperimentSpec,
    job: dg.JobDefinition,
) -> "RetrainState":
    """What is in flight: an open retraining run, a candidate awaiting approval, the last
    request (audit row or launched run)."""
    from aurora_pipelines.monitoring import retrain_policy as policy

    open_runs = context.instance.get_runs(
        dg.RunsFilter(job_name=job.name, statuses=OPEN_STATUSES), limit=1
    )
    champion = registry.alias_version(spec.name, "champion")
    pending = [
        r
        for r in store.list_requests(experiment=spec.name, status="pending")
        if champion is None or int(r.model_version) > int(champion)
    ]
    last = context.instance.get_runs(dg.RunsFilter(job_name=job.name), limit=1)
    target = f"experiment/{spec.name}"
    requested = [r for r in store.read_audit(event=policy.REQUESTED) if r.get("target") == target]
    stamps = [_epoch(r["ts"]) for r in requested[-1:]]
    if last and last[0].create_timestamp:
        stamps.append(float(last[0].create_timestamp))
    return policy.RetrainState(
        open_run_id=open_runs[0].run_id if open_runs else None,
        pending_candidate=pending[0].model_version if pending else None,
        last_request_at=max(stamps) if stamps else None,
    )


def build_drift_sensor(spec: ExperimentSpec, jobs: ExperimentJobs) -> dg.SensorDefinition:
    retrain = jobs.retrain
    m = spec.monitoring

    @dg.sensor(
        name=f"{spec.name}__drift_sensor",
        job=retrain,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Requests retraining when drift share exceeds {m.drift_share_max} or the "
        f"primary metric drops more than {m.performance_tolerance} (cooldown "
        f"{m.retrain_cooldown_hours} h, one open retraining, at least {m.min_new_rows} rows).",
    )
    def drift_sensor(
        context: dg.SensorEvaluationContext,
        lake: LakeResource,
        registry: MlflowRegistryResource,
        governance: GovernanceResource,
    ):
        from aurora_pipelines.monitoring import retrain_policy as policy
        from aurora_pipelines.monitoring.signals import CURSOR_KEY, latest_signals

        signals, cursor = latest_signals(
            lake.path(spec.name, *lifecycle.DRIFT),
            lake.path(spec.name, *lifecycle.PERFORMANCE),
            json.loads(context.cursor) if context.cursor else None,
            m,
        )
        context.update_cursor(json.dumps(cursor))
        if not signals:
            return dg.SkipReason("no new drift or performance window")
        store = governance.store()
        state = retrain_state(context, store, registry, spec, retrain)
        decision = policy.decide(signals, state, m, now=time.time())
        store.audit(
            decision.event,
            actor="drift_sensor",
            target=f"experiment/{spec.name}",
            details={"reason": decision.reason, **decision.details},
            correlation_id=signals[0].run_id or f"drift-sensor-{uuid.uuid4().hex[:16]}",
        )
        if not decision.request:
            return dg.SkipReason(decision.reason)
        crossed = [s.kind for s in signals if s.crossed]
        tags = {
            "aurora/trigger": crossed[0],
            "aurora/signals": "+".join(dict.fromkeys(crossed)),
            "aurora/retrain_reason": decision.reason[:200],
        }
        shares = [s.value for s in signals if s.kind == "drift"]
        if shares:
            tags["aurora/drift_share"] = f"{max(shares):.3f}"
        versions = cursor[CURSOR_KEY]
        return dg.RunRequest(
            run_key=f"retrain-{versions.get('drift', -1)}-{versions.get('performance', -1)}",
            tags=tags,
        )

    return drift_sensor
