"""Run an experiment's lifecycle in process, through Dagster, as far as its gates allow.

Like definitions.py and cli.py this module imports Dagster (the engine modules do not). Runs
are recorded in the Dagster instance under AURORA_HOME, so `make ui` shows what the CLI did.

Which assets run: every asset that was never materialized or whose upstream changed since
(`--full` runs them all). A gate that did not pass is re-evaluated whenever something behind
it must run: the direct parent of a selected asset is selected too when its latest blocking
check did not succeed (e.g. an approval that was pending), so nothing proceeds past a gate
on a stale verdict, and a passed gate is not re-run for nothing.

Daily-partitioned assets (batch scores, drift) run for one partition per run: `partition`
(default today's UTC day). Their staleness is that partition's: a day never scored, or
scored before its upstream changed, is selected; other days are not looked at.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from aurora_pipelines.errors import NotFound
from aurora_pipelines.settings import Settings
from aurora_pipelines.specs import ExperimentSpec


@dataclass
class FailedCheck:
    asset: str
    check: str
    description: str
    metadata: dict[str, str]
    blocking: bool = True  # a gate: Dagster stops what depends on the asset
    severity: str = "ERROR"  # an ERROR check that does not block is an alert, not a gate


@dataclass
class RunOutcome:
    run_id: str | None
    success: bool
    selected: list[str] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)
    partition: str | None = None  # the day the run's partitioned assets materialized
    failed_checks: list[FailedCheck] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return self.run_id is None


# Regulated environments send nothing home (telemetry); platform users must not meet the
# first-visit "Join the Dagster community" modal (nux). An explicit file also silences a warning.
INSTANCE_YAML = "telemetry:\n  enabled: false\nnux:\n  enabled: false\n"


def instance_for(settings: Settings) -> dg.DagsterInstance:
    """The persistent Dagster instance under AURORA_HOME (the one `make ui` opens)."""
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    config = settings.dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    return dg.DagsterInstance.get()


def experiment_assets(
    defs: dg.Definitions, spec: ExperimentSpec
) -> dict[dg.AssetKey, dg.AssetsDefinition]:
    """Every asset key of the experiment (its group), mapped to the definition that builds it."""
    graph = defs.resolve_asset_graph()
    keys = dg.AssetSelection.groups(spec.name).resolve(graph)
    return {key: graph.get(key).assets_def for key in keys}


def _parents(defs: dg.Definitions, key: dg.AssetKey) -> set[dg.AssetKey]:
    return set(defs.resolve_asset_graph().get(key).parent_keys)


def _toposort(defs: dg.Definitions, owned: Iterable[dg.AssetKey]) -> list[dg.AssetKey]:
    """The experiment's keys in the asset graph's dependency order (ties by name)."""
    wanted = set(owned)
    levels = defs.resolve_asset_graph().toposorted_asset_keys_by_level
    return [k for level in levels for k in sorted(level, key=_name) if k in wanted]


def _name(key: dg.AssetKey) -> str:
    return key.to_user_string()


def _check_passed(record: Any) -> bool:
    """The latest execution of a check succeeded (its status enum, not a string)."""
    return record is not None and record.status == type(record.status).SUCCEEDED


def _gate_open(
    instance: dg.DagsterInstance, assets_def: dg.AssetsDefinition, key: dg.AssetKey
) -> bool:
    """True unless one of the asset's blocking checks has not succeeded in its latest run."""
    blocking = [s.key for s in assets_def.check_specs if s.blocking and s.asset_key == key]
    return all(
        _check_passed(instance.get_latest_asset_check_evaluation_record(check))
        for check in blocking
    )


def today_partition() -> str:
    """The default partition of a run: today's UTC day."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _check_partition(owned: dict[dg.AssetKey, dg.AssetsDefinition], partition: str) -> None:
    for key, assets_def in owned.items():
        partitions = assets_def.partitions_def
        if partitions is not None and not partitions.has_partition_key(partition):
            raise NotFound(
                f"{key.to_user_string()} has no partition {partition!r}; pass a day "
                "YYYY-MM-DD from the first partition up to today (UTC), e.g. "
                f"--partition {today_partition()}"
            )


def _materialized_at(
    instance: dg.DagsterInstance, assets_def: dg.AssetsDefinition, key: dg.AssetKey, partition: str
) -> float | None:
    """When the asset (for a partitioned asset: its `partition`) was last materialized."""
    if assets_def.partitions_def is None:
        event = instance.get_latest_materialization_event(key)
        return event.timestamp if event else None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
    ).records
    return records[0].timestamp if records else None


def plan_selection(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    spec: ExperimentSpec,
    full: bool = False,
    partition: str | None = None,
) -> list[dg.AssetKey]:
    """The experiment's assets this run must materialize for `partition` (default today),
    in dependency order."""
    owned = experiment_assets(defs, spec)
    order = _toposort(defs, owned)
    partition = partition or today_partition()
    _check_partition(owned, partition)
    if full:
        return order
    stamp = {key: _materialized_at(instance, owned[key], key, partition) for key in order}
    needed: set[dg.AssetKey] = set()
    for key in order:
        parents = [p for p in _parents(defs, key) if p in owned]
        if (
            stamp[key] is None
            or any(p in needed for p in parents)
            or any((stamp[p] or 0) > (stamp[key] or 0) for p in parents)
        ):
            needed.add(key)
    gates = {
        parent
        for key in needed
        for parent in _parents(defs, key)
        if parent in owned and not _gate_open(instance, owned[parent], parent)
    }
    selected = needed | gates
    return [key for key in order if key in selected]


def is_partitioned(defs: dg.Definitions, keys: Iterable[dg.AssetKey]) -> bool:
    """Whether any of `keys` is a partitioned asset (the run then needs a partition key)."""
    graph = defs.resolve_asset_graph()
    return any(graph.get(key).partitions_def is not None for key in keys)


def _string_metadata(metadata: dict) -> dict[str, str]:
    return {name: str(getattr(value, "value", value)) for name, value in metadata.items()}


def run_experiment(
    defs: dg.Definitions,
    spec: ExperimentSpec,
    instance: dg.DagsterInstance,
    *,
    full: bool = False,
    partition: str | None = None,
    tags: dict[str, str] | None = None,
    log_level: str = "WARNING",
) -> RunOutcome:
    """Materialize what `plan_selection` picks, in process; never raises on a failed step.

    Partitioned and unpartitioned assets go in one run (Dagster 1.13 accepts a partition key
    for a mixed selection); a selection without partitioned assets gets no key, since Dagster
    refuses one there.
    """
    partition = partition or today_partition()
    selection = plan_selection(defs, instance, spec, full=full, partition=partition)
    if not selection:
        return RunOutcome(run_id=None, success=True, partition=partition)
    partition_key = partition if is_partitioned(defs, selection) else None
    # The run is named after the experiment's job (not __ephemeral_asset_job__), so the UI's
    # run list says what ran; the job's own subset of assets is what executes.
    job = _job_for(defs, spec, selection)
    result = job.execute_in_process(
        asset_selection=selection,
        instance=instance,
        raise_on_error=False,
        tags={"aurora/experiment": spec.name, **(tags or {})},
        partition_key=partition_key,
        # The CLI reports outcomes itself; the full event log is in the instance (make ui).
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
    )
    outcome = RunOutcome(
        run_id=result.run_id,
        success=result.success,
        selected=[k.to_user_string() for k in selection],
        materialized=_keys(e.asset_key for e in result.get_asset_materialization_events()),
        partition=partition_key,
    )
    outcome.failed_checks.extend(failed_checks(defs, result))
    gated = gated_steps(defs, outcome.failed_checks)
    for failure in result.get_step_failure_events():
        if failure.step_key in gated:
            continue  # a gate, reported above as the failed blocking check itself
        error = failure.step_failure_data.error
        outcome.errors.append(f"{failure.step_key}: {_root_message(error)}")
    return outcome


def _job_for(
    defs: dg.Definitions, spec: ExperimentSpec, selection: list[dg.AssetKey]
) -> dg.JobDefinition:
    """The experiment's job a CLI run is recorded under: `<name>__lifecycle` when it holds
    every selected asset (no partitioned stage), else `<name>__lifecycle_daily` (the group).
    Definitions without the experiment's jobs (tests build a few assets) get the group's job."""
    try:
        job = defs.resolve_job_def(f"{spec.name}__lifecycle")
        if set(selection) <= set(job.asset_layer.executable_asset_keys):
            return job
        return defs.resolve_job_def(f"{spec.name}__lifecycle_daily")
    except dg.DagsterInvariantViolationError:
        group_job = dg.define_asset_job(
            f"{spec.name}__lifecycle_daily", selection=dg.AssetSelection.groups(spec.name)
        )
        return dg.Definitions(
            assets=defs.assets, resources=defs.resources, jobs=[group_job]
        ).resolve_job_def(group_job.name)


def gated_steps(defs: dg.Definitions, checks: list[FailedCheck]) -> set[str]:
    """The steps Dagster failed because one of their blocking checks failed."""
    graph = defs.resolve_asset_graph()
    stopped = {c.asset for c in checks if c.blocking}
    return {
        graph.get(dg.AssetKey.from_user_string(asset)).assets_def.node_def.name for asset in stopped
    }


def failed_checks(defs: dg.Definitions, result: dg.ExecuteInProcessResult) -> list[FailedCheck]:
    """The run's failed checks; `blocking` comes from the check's definition, not its severity."""
    graph = defs.resolve_asset_graph()
    blocking_checks = {key for key in graph.asset_check_keys if graph.get_check_spec(key).blocking}
    return [
        FailedCheck(
            asset=evaluation.asset_key.to_user_string(),
            check=evaluation.check_name,
            description=evaluation.description or "",
            metadata=_string_metadata(evaluation.metadata),
            blocking=evaluation.asset_check_key in blocking_checks,
            severity=evaluation.severity.value,
        )
        for evaluation in result.get_asset_check_evaluations()
        if not evaluation.passed
    ]


def _root_message(error: Any) -> str:
    """The user's error, not Dagster's wrapper: AuroraError messages name the fix."""
    if error is None:
        return "step failed"
    while getattr(error, "cause", None) is not None:
        error = error.cause
    dbt = _dbt_errors(error.message)
    if dbt:
        return dbt
    return f"{error.cls_name}: {error.message.strip()}" if error.cls_name else error.message


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
DBT_ERRORS_MARKER = "Errors parsed from dbt logs:"


def _dbt_errors(message: str) -> str | None:
    """dbt's own error lines from a dagster-dbt failure (the model, the SQL error, the test)."""
    if DBT_ERRORS_MARKER not in message:
        return None
    lines = []
    for raw in message.split(DBT_ERRORS_MARKER, 1)[1].splitlines():
        line = _ANSI.sub("", raw).strip()
        # Progress lines ("1 of 21 ERROR ...") repeat what the error lines below say.
        if line and not re.match(r"^\d+ of \d+ ", line) and line not in lines:
            lines.append(line)
    return "dbt: " + " | ".join(lines[:6]) if lines else None


def _keys(keys: Iterable[dg.AssetKey | None]) -> list[str]:
    return [k.to_user_string() for k in keys if k is not None]
