"""platform/dashboards: the static overview and per-experiment pages the platform API serves."""

import dagster as dg

from aurora_pipelines.defs.assets.metadata import materialize
from aurora_pipelines.defs.resources import LakeResource

DASHBOARDS_KEY = dg.AssetKey(["platform", "dashboards"])
DASHBOARDS_JOB = "refresh_dashboards"


@dg.asset(
    key=DASHBOARDS_KEY,
    group_name="platform",
    kinds={"html"},
    description="Every experiment's champion, health, drift state, last scores and open "
    "approvals (index.html), and drift and performance over time per experiment; served at "
    "/dashboards by the platform API.",
)
def dashboards(lake: LakeResource) -> dg.MaterializeResult:
    from aurora_pipelines.monitoring.dashboards import dashboards_dir, write_dashboards

    settings = lake.settings_for(None)
    return materialize(write_dashboards(settings, dashboards_dir(settings)))


def dashboards_definitions() -> dg.Definitions:
    """The asset, a job for the Launchpad and an hourly schedule (on by default)."""
    job = dg.define_asset_job(DASHBOARDS_JOB, selection=dg.AssetSelection.keys(DASHBOARDS_KEY))
    return dg.Definitions(
        assets=[dashboards],
        jobs=[job],
        schedules=[
            dg.ScheduleDefinition(
                name=f"{DASHBOARDS_JOB}_hourly",
                job=job,
                cron_schedule="15 * * * *",
                execution_timezone="UTC",
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Regenerates the dashboards every hour.",
            )
        ],
    )
