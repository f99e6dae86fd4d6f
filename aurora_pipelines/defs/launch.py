"""Create and launch an experiment from the Dagster UI: the `create_experiment` job.

The Launchpad shows the job's typed run config (the same fields as `aurora experiments
create`); Dagster refuses an unknown field or a missing required one before a run exists.
The op writes the spec through the CLI's own validation (`experiments.create_experiment`:
spec, source, columns, nothing written on failure, the CLI's error message), then, with
`launch: true`, materializes the experiment's unpartitioned lifecycle as far as its gates
allow, recorded in this instance as the `<name>__lifecycle` job. The new experiment's asset
group appears once the code location is reloaded (Deployment -> Reload).
"""

import dagster as dg
from pydantic import Field

from aurora_pipelines.defs.assets.metadata import actor_of
from aurora_pipelines.defs.resources import LakeResource


class ExperimentConfig(dg.Config):
    """The questions `aurora experiments create` asks, as Launchpad fields."""

    name: str = Field(description="Experiment name (lower_snake_case).")
    source: str = Field(description="CSV/Parquet file, Delta dir, or database.table.")
    target: str = Field(description="Target column of the source.")
    team: str | None = Field(default=None, description="Owning team (default: caller's team).")
    problem_type: str = Field(default="classification", description="classification or regression.")
    id_column: str | None = Field(default=None, description="Row identifier column.")
    time_column: str | None = Field(default=None, description="Event-time column.")
    launch: bool = Field(
        default=True,
        description="Then run the unpartitioned lifecycle (raw, profile, features, training, "
        "model card, staging approval request) as far as its gates allow.",
    )


@dg.op(
    name="write_spec_and_launch",
    description="Write experiments/<name>.yaml (and its dbt models) after the CLI's checks, "
    "then run its unpartitioned lifecycle as far as its gates allow.",
)
def create_experiment_op(
    context: dg.OpExecutionContext, config: ExperimentConfig, lake: LakeResource
) -> dg.Output[str]:
    # Imported on use: Spark and the source readers stay out of the code location's load.
    from aurora_pipelines.errors import AuroraError
    from aurora_pipelines.experiments import create_experiment

    settings = lake.settings_for(actor_of(context))
    try:
        created = create_experiment(
            settings,
            name=config.name,
            source=config.source,
            target=config.target,
            team=config.team,
            problem_type=config.problem_type,
            id_column=config.id_column,
            time_column=config.time_column,
        )
    except AuroraError as exc:
        # The run's error is the CLI's one line (what is wrong, how to fix), not a traceback.
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    context.log.info(f"created experiment {config.name}: {created.spec_path}")
    metadata = {
        "spec": dg.MetadataValue.path(str(created.spec_path)),
        "dbt_files": dg.MetadataValue.json([str(p) for p in created.dbt_files]),
    }
    if config.launch:
        metadata.update(_launch(context, settings, config.name))
    return dg.Output(config.name, metadata=metadata)


def _launch(context: dg.OpExecutionContext, settings, name: str) -> dict:
    from aurora_pipelines.defs.definitions import build_definitions
    from aurora_pipelines.defs.runner import run_experiment
    from aurora_pipelines.specs import find_spec

    spec = find_spec(settings.experiments_dir, name)
    outcome = run_experiment(
        build_definitions(settings),
        spec,
        context.instance,
        tags={
            "aurora/actor": settings.user or spec.owner,
            "aurora/correlation_id": context.run.tags.get("aurora/correlation_id")
            or context.run_id,
            "aurora/launched_by_run": context.run_id,
        },
        log_level="INFO",
    )
    if outcome.errors:
        raise dg.Failure(f"experiment {name}: " + "; ".join(outcome.errors))
    return {
        "lifecycle_run_id": outcome.run_id or "up to date",
        "materialized": dg.MetadataValue.json(outcome.materialized),
        "waiting_at": dg.MetadataValue.json(
            [f"{c.asset} {c.check}: {c.description}" for c in outcome.failed_checks]
        ),
    }


@dg.job(
    name="create_experiment",
    description="Create an experiment from the Launchpad (the fields of `aurora experiments "
    "create`) and launch its lifecycle; reload the code location to see its asset group.",
    tags={"aurora/trigger": "launchpad"},
)
def create_experiment_job() -> None:
    create_experiment_op()


def launch_definitions() -> dg.Definitions:
    return dg.Definitions(jobs=[create_experiment_job])
