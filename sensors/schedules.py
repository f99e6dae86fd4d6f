"""Daily batch scoring and drift for each experiment."""

import dagster as dg

from aurora_pipelines.specs import ExperimentSpec
from sensors.jobs import ExperimentJobs


def build_daily_schedule(spec: ExperimentSpec, jobs: ExperimentJobs) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=f"{spec.name}__daily_scoring",
        job=jobs.score_and_monitor,
        cron_schedule="0 6 * * *",
        execution_timezone="UTC",
        description="Scores the day's batch with the champion and reports drift.",
    )
