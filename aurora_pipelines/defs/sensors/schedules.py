"""Daily batch scoring and drift for each experiment: one run per day partition."""

import dagster as dg

from aurora_pipelines.defs.jobs import ExperimentJobs
from aurora_pipelines.specs import ExperimentSpec


def build_daily_schedule(spec: ExperimentSpec, jobs: ExperimentJobs) -> dg.ScheduleDefinition:
    # The job's daily partitions include today (assets/partitions.py end_offset=1), so the
    # 06:00 UTC tick requests today's partition: the day's batch, scored once per day.
    return dg.build_schedule_from_partitioned_job(
        jobs.score_and_monitor,
        name=f"{spec.name}__daily_scoring",
        hour_of_day=6,
        minute_of_hour=0,
        description="Scores the day's batch with the champion (and challenger) and reports drift.",
    )
