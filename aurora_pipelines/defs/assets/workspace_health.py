"""workspace/health: every active experiment's health score (0-100) with its breakdown, daily.

One platform-wide asset (like governance/report): the engine (workspace/health.py) reads the
profile, the registry, the lake and the governance database and records one score per
experiment, which `aurora experiments list`, `aurora status` and the API show.
"""

from pathlib import Path

import dagster as dg

from aurora_pipelines.defs.assets.metadata import materialize
from aurora_pipelines.defs.resources import GovernanceResource, LakeResource, MlflowRegistryResource

HEALTH_KEY = dg.AssetKey(["workspace", "health"])
HEALTH_JOB = "workspace_health"
# 05:30 UTC: after the governance report, before the morning's scoring runs.
HEALTH_CRON = "30 5 * * *"


def build_health_asset(experiments_dir: Path) -> dg.AssetsDefinition:
    @dg.asset(
        key=HEALTH_KEY,
        group_name="workspace",
        kinds={"python"},
        description="Health score per experiment: data quality, metric vs bar, drift state, "
        "freshness of scores, approval state and revalidation due (workspace/health.py).",
    )
    def health(
        governance: GovernanceResource, lake: LakeResource, registry: MlflowRegistryResource
    ) -> dg.MaterializeResult:
        from aurora_pipelines.settings import Settings
        from aurora_pipelines.workspace.health import refresh_all
        from aurora_pipelines.workspace.store import WorkspaceStore

        settings = Settings(
            home=lake.layout.root,
            experiments_dir=experiments_dir,
            mlflow_tracking_uri=registry.tracking_uri,
        )
        return materialize(refresh_all(settings, WorkspaceStore(governance.store())))

    return health


def workspace_health_definitions(experiments_dir: Path) -> dg.Definitions:
    """The health asset, its job and the daily schedule (on by default)."""
    job = dg.define_asset_job(HEALTH_JOB, selection=dg.AssetSelection.keys(HEALTH_KEY))
    return dg.Definitions(
        assets=[build_health_asset(experiments_dir)],
        jobs=[job],
        schedules=[
            dg.ScheduleDefinition(
                name=f"{HEALTH_JOB}_daily",
                job=job,
                cron_schedule=HEALTH_CRON,
                execution_timezone="UTC",
                default_status=dg.DefaultScheduleStatus.RUNNING,
                description="Refreshes workspace/health every morning.",
            )
        ],
    )
