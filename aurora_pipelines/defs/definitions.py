"""The code location: per-stage `Definitions` for every experiment spec, merged. Nothing else.

Loading it reads YAML specs and the dbt manifest only: no Spark, MLflow or database starts.
Each stage below is small and self-contained (its assets, checks, sensors and jobs), like
dagster-open-platform's `defs/<domain>/definitions.py`; the resources come from the
deployment profile (`resources/profiles.py`, AURORA_DEPLOYMENT).
"""

from __future__ import annotations

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from aurora_pipelines import lifecycle
from aurora_pipelines.defs import automation
from aurora_pipelines.defs.assets.comparison import build_comparison_assets
from aurora_pipelines.defs.assets.dashboards import dashboards_definitions
from aurora_pipelines.defs.assets.deploy import build_deploy_assets
from aurora_pipelines.defs.assets.eda import build_eda_assets
from aurora_pipelines.defs.assets.explain import build_explain_assets
from aurora_pipelines.defs.assets.features import build_dbt_assets, dbt_project
from aurora_pipelines.defs.assets.governance import build_governance_assets
from aurora_pipelines.defs.assets.governance_report import governance_report_definitions
from aurora_pipelines.defs.assets.monitoring import build_monitoring_assets
from aurora_pipelines.defs.assets.raw import build_raw_assets
from aurora_pipelines.defs.assets.serving import build_serving_assets
from aurora_pipelines.defs.assets.training import build_training_assets
from aurora_pipelines.defs.assets.workspace_health import workspace_health_definitions
from aurora_pipelines.defs.jobs import ExperimentJobs, build_experiment_jobs
from aurora_pipelines.defs.launch import launch_definitions
from aurora_pipelines.defs.operations import operations_definitions
from aurora_pipelines.defs.resources import build_resources
from aurora_pipelines.defs.resources.profiles import build_executor
from aurora_pipelines.defs.score_today import build_score_today_job
from aurora_pipelines.defs.sensors import (
    build_approval_sensor,
    build_canary_job,
    build_canary_sensor,
    build_daily_schedule,
    build_drift_sensor,
    build_new_data_sensor,
    build_run_audit_sensor,
)
from aurora_pipelines.errors import SpecError
from aurora_pipelines.settings import Settings, get_settings
from aurora_pipelines.specs import ExperimentSpec, load_specs


def _assets(spec: ExperimentSpec, *builders) -> list[dg.AssetsDefinition]:
    built = [a for build in builders for a in build(spec)]
    if spec.archived is not None:
        return built  # archived: readable and launchable by hand, never automated
    return automation.with_lifecycle_policy(spec, built)


def check_feature_models(spec: ExperimentSpec, dbt: dg.AssetsDefinition) -> None:
    """The spec's dbt models exist and build this experiment's feature stages."""
    expected = [
        (spec.features.dbt_model, lifecycle.FEATURES),
        (spec.features.scoring_dbt_model, lifecycle.SCORING_FEATURES),
    ]
    for model, stage in expected:
        if model is None:
            continue
        try:
            key = get_asset_key_for_model([dbt], model)
        except Exception as exc:
            raise SpecError(
                f"experiment '{spec.name}': features model '{model}' is not a model of the dbt "
                "project; fix `features` in the spec or add the model under dbt_project/models"
            ) from exc
        if key != dg.AssetKey(spec.key(*stage)):
            raise SpecError(
                f"experiment '{spec.name}': dbt model '{model}' builds {key.to_user_string()}, "
                f"not {'/'.join(spec.key(*stage))}; set its meta "
                f"`aurora: {{experiment: {spec.name}, stage: {stage[-1]}}}`"
            )


def ingest_definitions(spec: ExperimentSpec, jobs: ExperimentJobs) -> dg.Definitions:
    return dg.Definitions(
        assets=_assets(spec, build_raw_assets, build_eda_assets),
        jobs=[jobs.refresh],
        sensors=[build_new_data_sensor(spec, jobs.refresh)],
    )


def training_definitions(spec: ExperimentSpec, jobs: ExperimentJobs) -> dg.Definitions:
    return dg.Definitions(
        assets=_assets(spec, build_training_assets, build_explain_assets, build_comparison_assets),
        jobs=[jobs.retrain],
    )


def governance_definitions(spec: ExperimentSpec, jobs: ExperimentJobs) -> dg.Definitions:
    return dg.Definitions(assets=_assets(spec, build_governance_assets))


def deploy_definitions(spec: ExperimentSpec, jobs: ExperimentJobs) -> dg.Definitions:
    canary_step = build_canary_job(spec)
    return dg.Definitions(
        assets=_assets(spec, build_deploy_assets),
        jobs=[*jobs.promote.values(), canary_step],
        sensors=[build_canary_sensor(spec, canary_step)],
    )


def serving_definitions(spec: ExperimentSpec, jobs: ExperimentJobs) -> dg.Definitions:
    return dg.Definitions(
        assets=_assets(spec, build_serving_assets),
        jobs=[
            jobs.score_and_monitor,
            build_score_today_job(spec, target=jobs.score_and_monitor.name),
        ],
        schedules=[build_daily_schedule(spec, jobs)],
    )


def monitoring_definitions(spec: ExperimentSpec, jobs: ExperimentJobs) -> dg.Definitions:
    return dg.Definitions(
        assets=_assets(spec, build_monitoring_assets),
        sensors=[build_drift_sensor(spec, jobs)],
    )


EXPERIMENT_STAGES = (
    ingest_definitions,
    training_definitions,
    governance_definitions,
    deploy_definitions,
    serving_definitions,
    monitoring_definitions,
)


def experiment_definitions(spec: ExperimentSpec, jobs: ExperimentJobs) -> dg.Definitions:
    """One experiment's lifecycle: its stages' definitions and its whole-lifecycle job.

    A further task of a multi-task experiment (`tasks:`, `spec.parent` set) has no ingest
    stage: its model-side assets depend on the parent's raw and feature assets."""
    stages = EXPERIMENT_STAGES[1:] if spec.parent else EXPERIMENT_STAGES
    merged = dg.Definitions.merge(
        *(stage(spec, jobs) for stage in stages),
        dg.Definitions(jobs=[jobs.lifecycle, jobs.lifecycle_daily]),
    )
    if spec.archived is not None:
        # Archived (aurora experiments archive): no schedules or sensors; assets stay readable.
        return dg.Definitions(assets=merged.assets, jobs=merged.jobs)
    return merged


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or get_settings()
    specs = load_specs(settings.experiments_dir)
    dbt = build_dbt_assets(
        dbt_project(settings.dbt_project_dir, settings.dbt_target, settings.root)
    )
    for spec in specs:
        check_feature_models(spec, dbt)
    # Each further task of a multi-task spec is its own group and model (`<name>_<task>`).
    specs = [task for spec in specs for task in spec.task_specs()]
    jobs = {spec.name: build_experiment_jobs(spec) for spec in specs}
    return dg.Definitions.merge(
        dg.Definitions(assets=[dbt]),
        # Platform-wide governance stage: the inventory and approval analytics, daily.
        governance_report_definitions(settings.experiments_dir),
        workspace_health_definitions(settings.experiments_dir),
        launch_definitions(),
        dashboards_definitions(),
        *(experiment_definitions(spec, jobs[spec.name]) for spec in specs),
        dg.Definitions(
            sensors=[
                # An archived experiment's approvals no longer promote anything.
                build_approval_sensor({s.name: jobs[s.name] for s in specs if s.archived is None}),
                build_run_audit_sensor(),
                dg.AutomationConditionSensorDefinition(
                    "aurora_automation",
                    target=dg.AssetSelection.keys(
                        *(
                            k
                            for spec in specs
                            if spec.archived is None
                            for k in automation.automated_keys(spec)
                        )
                    ),
                    default_status=dg.DefaultSensorStatus.RUNNING,
                    description="Carries the ungated scoring chain on when its upstream "
                    "changes (raw_batch -> scoring features -> batch scores -> drift).",
                ),
            ]
        ),
        operations_definitions(specs),
        dg.Definitions(resources=build_resources(settings), executor=build_executor()),
    )


defs = build_definitions()
