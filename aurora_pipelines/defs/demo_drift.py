"""`aurora demo --drift`: the monitoring loop closed, after the first champion exists.

drift injected (sample-data generator) -> new batch scored, drift detected -> the drift
sensor's own logic, evaluated in process, requests retraining -> the retraining run trains a
candidate and compares it with the champion -> staging and production approvals pending
(given here by the DEMO identities) -> the candidate becomes the new champion.
The champion never changes before both approvals; `DriftLoop` records that for the test.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from rich.console import Console

from aurora_pipelines import lifecycle
from aurora_pipelines.errors import AuroraError
from aurora_pipelines.settings import Settings

EXPERIMENT = "credit_default"


@dataclass
class DriftLoop:
    champion_before: str | None = None
    drift_share_before: float | None = None
    drift_share: float | None = None
    retrain_reason: str = ""
    candidate: str | None = None
    comparison: dict[str, Any] = field(default_factory=dict)
    champion_while_pending: str | None = None  # after retraining, before any approval
    champion_after_staging: str | None = None  # staging approved, production pending
    champion_after: str | None = None


def _champion(settings: Settings) -> str | None:
    from aurora_pipelines.registry import mlflow_registry

    return mlflow_registry.get_alias_version(settings.tracking_uri, EXPERIMENT, "champion")


def _materialize(
    settings: Settings, defs: dg.Definitions, selection: Any, tags: dict[str, str]
) -> dg.ExecuteInProcessResult:
    """Materialize a selection in process (like a launched job), tolerating a pending gate."""
    from aurora_pipelines.commands.run import _output_to
    from aurora_pipelines.defs.runner import (
        failed_checks,
        gated_steps,
        instance_for,
        is_partitioned,
        today_partition,
    )

    keys = dg.AssetSelection.from_coercible(selection).resolve(defs.resolve_asset_graph())
    log = settings.root / "logs" / f"demo-drift-{uuid.uuid4().hex[:12]}.log"
    with _output_to(log):
        result = dg.materialize(
            assets=[a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)],
            selection=selection,
            partition_key=today_partition() if is_partitioned(defs, keys) else None,
            instance=instance_for(settings),
            resources=dict(defs.resources or {}),
            raise_on_error=False,
            tags={"aurora/experiment": EXPERIMENT, **tags},
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    # A step stopped by a failed blocking check (an approval still pending) is a gate.
    gated = gated_steps(defs, failed_checks(defs, result))
    for failure in result.get_step_failure_events():
        if failure.step_key not in gated:
            raise AuroraError(f"demo drift loop: {failure.step_key} failed (log: {log})")
    return result


def _metadata(result: dg.ExecuteInProcessResult, stage: lifecycle.Stage) -> dict[str, Any]:
    key = dg.AssetKey([EXPERIMENT, *stage])
    for event in result.get_asset_materialization_events():
        if event.asset_key == key:
            return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    return {}


def run_drift_loop(
    settings: Settings,
    *,
    batch_rows: int,
    labelled_rows: int,
    console: Console,
    approve,
    run,
) -> DriftLoop:
    """The loop after the first champion; `approve(gate)` and `run()` are the demo's own."""
    from aurora_pipelines.defs.definitions import build_definitions
    from aurora_pipelines.defs.jobs import build_experiment_jobs
    from aurora_pipelines.defs.runner import instance_for
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.lake.spark import get_spark
    from aurora_pipelines.sources.catalog import inject_drift
    from aurora_pipelines.specs import find_spec

    loop = DriftLoop(champion_before=_champion(settings))
    console.rule("Drift loop: the population changes")
    for table in inject_drift(get_spark(settings), batch_rows, labelled_rows=labelled_rows):
        console.print(f"injected drift: {table.table} {table.rows:,} rows")
    defs = build_definitions(settings)
    scored = _materialize(
        settings,
        defs,
        [
            dg.AssetKey([EXPERIMENT, *stage])
            for stage in (
                lifecycle.RAW_BATCH,
                lifecycle.SCORING_FEATURES,
                lifecycle.BATCH_SCORES,
                lifecycle.DRIFT,
                lifecycle.PERFORMANCE,
            )
        ],
        {"aurora/trigger": "demo_drift"},
    )
    drift = _metadata(scored, lifecycle.DRIFT)
    loop.drift_share = float(drift.get("drift_share", 0.0))
    console.print(
        f"[red]drift detected[/red]: share {loop.drift_share:.2f} "
        f"(drifted: {drift.get('drifted_features')}); report {drift.get('report')}"
    )
    performance = _metadata(scored, lifecycle.PERFORMANCE)
    if performance:
        console.print(
            f"performance on the labelled window: {performance['metric']} "
            f"{performance['value']:.4f} vs {performance.get('training_value')} at training"
        )

    sensor = defs.get_sensor_def(f"{EXPERIMENT}__drift_sensor")
    with dg.build_sensor_context(
        instance=instance_for(settings), resources=dict(defs.resources or {})
    ) as context:
        decision = sensor(context)
    if not isinstance(decision, dg.RunRequest):
        raise AuroraError(
            f"demo expected a retraining request, the drift sensor skipped: {decision}"
        )
    loop.retrain_reason = decision.tags.get("aurora/retrain_reason", "")
    console.print(
        f"[yellow]retraining requested[/yellow] by the drift sensor: {loop.retrain_reason}"
    )

    # What the sensor's RunRequest launches: the retrain job's selection, with its tags.
    spec = find_spec(settings.experiments_dir, EXPERIMENT)
    retrain = build_experiment_jobs(spec).retrain
    retrained = _materialize(settings, defs, retrain.selection, dict(decision.tags))
    comparison = _metadata(retrained, lifecycle.CHAMPION_COMPARISON)
    # The candidate is what train/model recorded (the record the gates read).
    record = GovernanceStore.from_settings(settings).latest_candidate(EXPERIMENT)
    loop.candidate = record.model_version if record else ""
    loop.comparison = {k: v for k, v in comparison.items() if k != "comparison"}
    console.print(
        f"candidate v{loop.candidate} trained; vs champion v{loop.champion_before} on recent "
        f"labelled data: {comparison.get('metric')} {comparison.get('candidate_value')} vs "
        f"{comparison.get('champion_value')}"
    )
    pending = GovernanceStore.from_settings(settings).list_requests(
        experiment=EXPERIMENT, status="pending"
    )
    console.print(
        "approvals pending: "
        + ", ".join(f"#{r.id} {r.gate} v{r.model_version}" for r in pending)
        + f"; champion is still v{_champion(settings)}"
    )
    loop.champion_while_pending = _champion(settings)
    approve("staging")
    run()
    loop.champion_after_staging = _champion(settings)
    approve("production")
    run()
    loop.champion_after = _champion(settings)
    console.print(
        f"[green]new champion[/green]: v{loop.champion_after} (was v{loop.champion_before})"
    )
    return loop
