"""`<experiment>__score_today`: today's partition of the daily stages, launched with one click.

Dagster 1.13's Launchpad cannot default a partitioned job's partition: the partition picker of
`<experiment>__score_and_monitor` starts empty (it warns when launched without one), and a
job's tags or `PartitionedConfig` are fixed when the code location loads, so a "today" put
there would go stale at midnight. The 06:00 schedule requests today's partition, but only at
06:00. This unpartitioned job has no picker: its one op works out today's UTC day when it
runs and executes `<experiment>__score_and_monitor` for that partition, in its own process,
as a run of its own on the same instance (so the asset's partitions, the run list and the
job's run history read as any other daily run), tagged with the run that launched it.
"""

import dagster as dg

from aurora_pipelines.specs import ExperimentSpec

PARENT_TAG = "aurora/launched_by_run"


def score_today_job_name(spec: ExperimentSpec) -> str:
    return f"{spec.name}__score_today"


def build_score_today_job(spec: ExperimentSpec, target: str) -> dg.JobDefinition:
    """The job that runs today's partition of the asset job named `target`."""

    @dg.op(
        name=f"{spec.name}__launch_today",
        description=f"Runs today's (UTC) partition of {target}.",
    )
    def launch_today(context: dg.OpExecutionContext) -> dg.Output[str]:
        from aurora_pipelines.defs.runner import today_partition

        day = today_partition()
        # The code location's own job (the run worker loads the repository), with its
        # resources: the same thing the Launchpad would run with the day picked.
        job = context.repository_def.get_job(target)
        inherited = {
            k: v
            for k, v in context.run.tags.items()
            if k.startswith("aurora/") or k == "dagster/user"
        }
        result = job.execute_in_process(
            partition_key=day,
            instance=context.instance,
            raise_on_error=False,
            tags={**inherited, "aurora/experiment": spec.name, PARENT_TAG: context.run_id},
        )
        if not result.success:
            raise dg.Failure(
                description=f"{target} failed for {day}: see run {result.run_id}",
                metadata={"partition": day, "run_id": result.run_id},
            )
        materialized = sorted(
            {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        )
        return dg.Output(
            result.run_id,
            metadata={
                "partition": day,
                "run_id": result.run_id,
                "materialized": ", ".join(materialized) or "none",
            },
        )

    @dg.job(
        name=score_today_job_name(spec),
        description=f"Today's partition of {target} (UTC day), without picking it: "
        "the day's batch scored and monitored; launch it from the Launchpad as it is.",
        tags={"aurora/experiment": spec.name},
        executor_def=dg.in_process_executor,
    )
    def score_today() -> None:
        launch_today()

    return score_today
