"""Drift sensor: drift above the spec's threshold requests one retraining run, with a cooldown.

Each trigger and each skip is written to the audit log with its reason. The retrained model
is only a candidate: it waits for the same staging and production approvals.
"""

import time

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.specs import ExperimentSpec
from resources import AuroraResource
from sensors.jobs import ExperimentJobs

OPEN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def build_drift_sensor(spec: ExperimentSpec, jobs: ExperimentJobs) -> dg.SensorDefinition:
    drift_key = dg.AssetKey(spec.key(*lifecycle.DRIFT))
    retrain = jobs.retrain
    threshold = spec.monitoring.drift_share_max
    cooldown_s = spec.monitoring.retrain_cooldown_hours * 3600

    @dg.sensor(
        name=f"{spec.name}__drift_sensor",
        job=retrain,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Requests retraining when drift share exceeds {threshold}.",
    )
    def drift_sensor(context: dg.SensorEvaluationContext, aurora: AuroraResource):
        records = context.instance.fetch_materializations(drift_key, limit=1).records
        if not records or records[0].storage_id <= int(context.cursor or 0):
            return dg.SkipReason("no new drift report")
        record = records[0]
        context.update_cursor(str(record.storage_id))
        event = record.event_log_entry
        materialization = event.asset_materialization
        metadata = materialization.metadata if materialization else {}
        drift_share = float(metadata["drift_share"].value) if "drift_share" in metadata else 0.0
        audit_target = f"experiment/{spec.name}"
        governance = aurora.governance()

        def skip(reason: str) -> dg.SkipReason:
            governance.audit(
                "retrain_skipped",
                actor="drift_sensor",
                target=audit_target,
                details={"reason": reason, "drift_share": drift_share},
                correlation_id=event.run_id,
            )
            return dg.SkipReason(reason)

        if drift_share <= threshold:
            return dg.SkipReason(f"drift share {drift_share:.2f} within {threshold}")
        open_runs = context.instance.get_runs(
            dg.RunsFilter(job_name=retrain.name, statuses=OPEN_STATUSES), limit=1
        )
        if open_runs:
            return skip(f"retraining run {open_runs[0].run_id} is still open")
        last = context.instance.get_runs(dg.RunsFilter(job_name=retrain.name), limit=1)
        if (
            last
            and last[0].create_timestamp
            and (time.time() - last[0].create_timestamp < cooldown_s)
        ):
            return skip(f"cooldown: last retraining run {last[0].run_id} is recent")
        governance.audit(
            "retrain_requested",
            actor="drift_sensor",
            target=audit_target,
            details={"drift_share": drift_share, "threshold": threshold},
            correlation_id=event.run_id,
        )
        return dg.RunRequest(
            run_key=f"drift-{record.storage_id}",
            tags={"aurora/trigger": "drift", "aurora/drift_share": f"{drift_share:.3f}"},
        )

    return drift_sensor
