"""Drift sensor: a new drift or performance window that crosses its threshold requests one
retraining run, under the rules of `aurora_pipelines.monitoring.retrain_policy` (cooldown,
at most one open retraining per experiment, minimum new data).

Each trigger and each skip is written to the audit log with its reason. The retrained model
is only a candidate: it waits for the same staging and production approvals.
"""

import json
import time
from datetime import datetime

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.jobs import ExperimentJobs
from aurora_pipelines.defs.resources import AuroraResource
from aurora_pipelines.specs import ExperimentSpec

OPEN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _value(metadata, name: str, default=None):
    entry = metadata.get(name)
    return default if entry is None else entry.value


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, after: int):
    records = instance.fetch_materializations(key, limit=1).records
    if not records or records[0].storage_id <= after:
        return None
    return records[0]


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def build_drift_sensor(spec: ExperimentSpec, jobs: ExperimentJobs) -> dg.SensorDefinition:
    drift_key = dg.AssetKey(spec.key(*lifecycle.DRIFT))
    performance_key = dg.AssetKey(spec.key(*lifecycle.PERFORMANCE))
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
    def drift_sensor(context: dg.SensorEvaluationContext, aurora: AuroraResource):
        from aurora_pipelines.monitoring import retrain_policy as policy
        from aurora_pipelines.registry import mlflow_registry

        cursor = json.loads(context.cursor) if context.cursor else {}
        if isinstance(cursor, int):  # the cursor of earlier versions: the drift storage id
            cursor = {"drift": cursor}
        drift = _latest(context.instance, drift_key, int(cursor.get("drift", 0)))
        performance = _latest(context.instance, performance_key, int(cursor.get("performance", 0)))
        if drift is None and performance is None:
            return dg.SkipReason("no new drift or performance result")
        signals, run_ids = [], []
        if drift is not None:
            cursor["drift"] = drift.storage_id
            md = drift.event_log_entry.asset_materialization.metadata
            signals.append(
                policy.drift_signal(
                    str(_value(md, "window", "")),
                    float(_value(md, "drift_share", 0.0)),
                    int(_value(md, "rows", _value(md, "dagster/row_count", 0))),
                    m,
                )
            )
            run_ids.append(drift.event_log_entry.run_id)
        if performance is not None:
            cursor["performance"] = performance.storage_id
            md = performance.event_log_entry.asset_materialization.metadata
            signals.append(
                policy.performance_signal(
                    str(_value(md, "window", "")),
                    str(_value(md, "metric", spec.training.primary_metric)),
                    _value(md, "drop"),
                    int(_value(md, "labelled_rows", 0)),
                    m,
                )
            )
            run_ids.append(performance.event_log_entry.run_id)
        context.update_cursor(json.dumps(cursor))

        governance = aurora.governance()
        target = f"experiment/{spec.name}"
        open_runs = context.instance.get_runs(
            dg.RunsFilter(job_name=retrain.name, statuses=OPEN_STATUSES), limit=1
        )
        champion = mlflow_registry.get_alias_version(aurora.tracking_uri, spec.name, "champion")
        pending = [
            r
            for r in governance.list_requests(experiment=spec.name, status="pending")
            if champion is None or int(r.model_version) > int(champion)
        ]
        last = context.instance.get_runs(dg.RunsFilter(job_name=retrain.name), limit=1)
        requested = [
            r for r in governance.read_audit(event=policy.REQUESTED) if r.get("target") == target
        ]
        stamps = [_epoch(r["ts"]) for r in requested[-1:]]
        if last and last[0].create_timestamp:
            stamps.append(float(last[0].create_timestamp))
        state = policy.RetrainState(
            open_run_id=open_runs[0].run_id if open_runs else None,
            pending_candidate=pending[0].model_version if pending else None,
            last_request_at=max(stamps) if stamps else None,
        )
        decision = policy.decide(signals, state, m, now=time.time())
        governance.audit(
            decision.event,
            actor="drift_sensor",
            target=target,
            details={"reason": decision.reason, **decision.details},
            correlation_id=run_ids[0],
        )
        if not decision.request:
            return dg.SkipReason(decision.reason)
        crossed = [s.kind for s in signals if s.crossed]
        tags = {
            "aurora/trigger": crossed[0],
            "aurora/signals": "+".join(crossed),
            "aurora/retrain_reason": decision.reason[:200],
        }
        if drift is not None:
            tags["aurora/drift_share"] = f"{signals[0].value:.3f}"
        return dg.RunRequest(
            run_key=f"retrain-{cursor.get('drift', 0)}-{cursor.get('performance', 0)}", tags=tags
        )

    return drift_sensor
