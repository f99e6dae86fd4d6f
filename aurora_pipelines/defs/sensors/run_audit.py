"""Run-start audit: every run launched outside the CLI (UI, sensors, schedules) is written to
the audit log with its correlation id; the CLI audits its own runs before launching them."""

import dagster as dg

from aurora_pipelines.defs.resources import GovernanceResource

LAUNCHED_BY_CLI = ("aurora/launched_by", "cli")


def build_run_audit_sensor() -> dg.SensorDefinition:
    @dg.run_status_sensor(
        name="run_audit_sensor",
        run_status=dg.DagsterRunStatus.STARTED,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Appends a `run_started` row to the audit log for each run not launched "
        "by the aurora CLI.",
    )
    def run_audit_sensor(
        context: dg.RunStatusSensorContext, governance: GovernanceResource
    ) -> None:
        run = context.dagster_run
        tags = run.tags
        if tags.get(LAUNCHED_BY_CLI[0]) == LAUNCHED_BY_CLI[1]:
            return
        governance.store().audit(
            "run_started",
            actor=tags.get("aurora/actor") or tags.get("dagster/user") or "dagster",
            target=f"dagster_run/{run.run_id}",
            details={
                "job": run.job_name,
                "experiment": tags.get("aurora/experiment"),
                "trigger": tags.get("dagster/sensor_name")
                or tags.get("dagster/schedule_name")
                or "ui",
            },
            correlation_id=tags.get("aurora/correlation_id") or run.run_id,
        )

    return run_audit_sensor
