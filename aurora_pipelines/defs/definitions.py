"""The code location: merges per-stage definitions for every experiment spec. Nothing else.

Loading it reads YAML specs and the dbt manifest only: no Spark, MLflow or database starts.
"""

from __future__ import annotations

import dagster as dg

from aurora_pipelines.defs.assets import build_experiment_assets
from aurora_pipelines.defs.assets.features import build_dbt_assets, dbt_project
from aurora_pipelines.defs.resources import build_resources
from aurora_pipelines.defs.sensors import (
    build_approval_sensor,
    build_canary_sensor,
    build_daily_schedule,
    build_drift_sensor,
    build_experiment_jobs,
    build_run_audit_sensor,
)
from aurora_pipelines.settings import Settings, get_settings
from aurora_pipelines.specs import load_specs


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or get_settings()
    specs = load_specs(settings.experiments_dir)
    project = dbt_project(settings.dbt_project_dir, settings.dbt_target, settings.root)
    jobs = {spec.name: build_experiment_jobs(spec) for spec in specs}
    return dg.Definitions(
        assets=[
            build_dbt_assets(project),
            *(a for spec in specs for a in build_experiment_assets(spec)),
        ],
        jobs=[job for j in jobs.values() for job in j.all()],
        sensors=[
            build_approval_sensor(jobs),
            build_run_audit_sensor(),
            *(build_drift_sensor(spec, jobs[spec.name]) for spec in specs),
            *(build_canary_sensor(spec) for spec in specs),
        ],
        schedules=[build_daily_schedule(spec, jobs[spec.name]) for spec in specs],
        resources=build_resources(settings),
    )


defs = build_definitions()
