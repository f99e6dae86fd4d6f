"""Approval sensor: a recorded decision continues the promotion it unblocks."""

import dagster as dg

from aurora_pipelines.lifecycle import Gate
from resources import AuroraResource
from sensors.jobs import ExperimentJobs


def build_approval_sensor(jobs: dict[str, ExperimentJobs]) -> dg.SensorDefinition:
    promote_jobs = [job for j in jobs.values() for job in j.promote.values()]

    @dg.sensor(
        name="approval_sensor",
        jobs=promote_jobs,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Launches the promotion run when an approval decision is recorded.",
    )
    def approval_sensor(context: dg.SensorEvaluationContext, aurora: AuroraResource):
        cursor = int(context.cursor or 0)
        for request in aurora.governance().decisions_after(cursor):
            cursor = max(cursor, request.decision_seq or cursor)
            experiment_jobs = jobs.get(request.experiment)
            if request.status != "approved" or experiment_jobs is None:
                context.log.info(
                    f"approval request #{request.id} is {request.status}: nothing to promote"
                )
                continue
            job = experiment_jobs.promote[Gate(request.gate)]
            yield dg.RunRequest(
                run_key=f"approval-{request.id}",
                job_name=job.name,
                tags={
                    "aurora/approval_request_id": str(request.id),
                    "aurora/correlation_id": request.correlation_id or "",
                },
            )
        context.update_cursor(str(cursor))

    return approval_sensor
