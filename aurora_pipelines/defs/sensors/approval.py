"""Approval sensor: a recorded decision continues the promotion it unblocks."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg

from aurora_pipelines.defs.jobs import ExperimentJobs
from aurora_pipelines.defs.resources import GovernanceResource
from aurora_pipelines.lifecycle import Gate

if TYPE_CHECKING:
    # Type only: importing the governance store at load would pull in SQLAlchemy's SQLite driver.
    from aurora_pipelines.governance.approvals import ApprovalRequest


def build_approval_sensor(jobs: dict[str, ExperimentJobs]) -> dg.SensorDefinition:
    promote_jobs = [job for j in jobs.values() for job in j.promote.values()]

    @dg.sensor(
        name="approval_sensor",
        jobs=promote_jobs,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Launches the promotion run when an approval decision is recorded, unless "
        "that promotion (or a later one of the same gate) was already carried out.",
    )
    def approval_sensor(context: dg.SensorEvaluationContext, governance: GovernanceResource):
        from aurora_pipelines.deploy.carried_out import already_acted_on, promoted_approvals

        cursor = int(context.cursor or 0)
        store = governance.store()
        decisions = store.decisions_after(cursor)
        # The cursor lives in the Dagster instance; what was carried out lives in the store.
        promotions = promoted_approvals(store) if decisions else []
        for request in decisions:
            cursor = max(cursor, request.decision_seq or cursor)
            experiment_jobs = jobs.get(request.experiment)
            if request.status != "approved" or experiment_jobs is None:
                context.log.info(
                    f"approval request #{request.id} is {request.status}: nothing to promote"
                )
                continue
            done = already_acted_on(request, promotions)
            if done:
                context.log.info(f"{done}: not launching it again")
                continue
            gate = Gate(request.gate)
            job = experiment_jobs.promote[gate]
            yield dg.RunRequest(
                run_key=f"approval-{request.id}",
                job_name=job.name,
                # Production promotion scores the batch (daily-partitioned): the decision's day.
                partition_key=_decision_day(request) if gate == Gate.production else None,
                tags={
                    "aurora/approval_request_id": str(request.id),
                    "aurora/correlation_id": request.correlation_id or "",
                    # The promotion continues the maker's lifecycle (the next request names
                    # them again); the approver is recorded beside.
                    "aurora/actor": request.requested_by,
                    "aurora/approved_by": request.decided_by or "",
                },
            )
        context.update_cursor(str(cursor))

    return approval_sensor


def _decision_day(request: "ApprovalRequest") -> str:
    """UTC day of the decision (today if unknown): the partition the promotion scores,
    stable however late the sensor evaluates it."""
    decided = request.decided_at or datetime.now(UTC)
    moment = decided if decided.tzinfo else decided.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d")
