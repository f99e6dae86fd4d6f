"""End to end: one experiment through all seven stages on real Spark, Delta, dbt and MLflow,
with both maker-checker approvals, then the sensors that continue and retrain."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from rich.console import Console

from aurora_pipelines import lifecycle
from aurora_pipelines.errors import PermissionDenied
from aurora_pipelines.lake import delta
from aurora_pipelines.settings import REPO_DIR, Settings

EXPERIMENT = "credit_default"


@pytest.fixture(scope="module")
def lifecycle_settings(settings: Settings, spark) -> Settings:
    from aurora_pipelines.sources.catalog import seed_sample_tables

    seed_sample_tables(spark, rows=6_000, batch_rows=2_000, seed=7)
    return settings.model_copy(update={"experiments_dir": REPO_DIR / "experiments"})


@pytest.fixture(scope="module")
def quiet() -> Console:
    return Console(quiet=True)


def _governance(settings: Settings):
    from aurora_pipelines.governance.store import GovernanceStore

    return GovernanceStore.from_settings(settings)


def _pending(settings: Settings, gate: str):
    pending = _governance(settings).list_requests(
        experiment=EXPERIMENT, gate=gate, status="pending"
    )
    assert len(pending) == 1, pending
    return pending[0]


@pytest.fixture(scope="module")
def first_run(lifecycle_settings: Settings, quiet: Console):
    from aurora_pipelines.commands.run import run_and_report

    return run_and_report(lifecycle_settings, EXPERIMENT, full=True, console=quiet)


def test_first_run_stops_at_the_staging_gate(first_run, lifecycle_settings: Settings):
    assert not first_run.errors
    done = set(first_run.materialized)
    for stage in (
        lifecycle.RAW,
        lifecycle.PROFILE,
        lifecycle.FEATURES,
        lifecycle.MODEL,
        lifecycle.STAGING_APPROVAL,
        lifecycle.RAW_BATCH,
        lifecycle.SCORING_FEATURES,
    ):
        assert "/".join([EXPERIMENT, *stage]) in done
    assert "credit_default/deploy/staging" not in done
    gate = [c for c in first_run.failed_checks if c.check == "approved"]
    assert [c.asset for c in gate] == ["credit_default/governance/staging_approval"]
    assert "validator_bob" in gate[0].metadata["approvers"]
    # Real Delta tables, each with its version history.
    lake = lifecycle_settings.lake_dir / EXPERIMENT
    assert delta.version(lake / "raw") >= 0
    features = delta.read_pandas(lake / "features")
    assert len(features) == 6_000 and "loan_to_income" in features.columns


def test_model_card_is_attached_and_audit_rows_share_the_run_correlation_id(
    first_run, lifecycle_settings: Settings
):
    from aurora_pipelines.defs.runner import instance_for

    assert "credit_default/explain/model_card" in set(first_run.materialized)
    request = _pending(lifecycle_settings, "staging")
    card = Path(request.details["model_card"])
    assert card.exists() and card.parent.name == f"v{request.model_version}"
    markdown = Path(request.details["model_card_markdown"]).read_text()
    assert request.model_digest in markdown and "Metrics by slice: region" in markdown
    # One id ties the Dagster run, its audit rows and the approval request together.
    run = instance_for(lifecycle_settings).get_run_by_id(first_run.run_id)
    correlation = run.tags["aurora/correlation_id"]
    assert request.correlation_id == correlation
    events = {
        r["event"] for r in _governance(lifecycle_settings).read_audit(correlation_id=correlation)
    }
    assert {"run_started", "approval_requested", "run_finished"} <= events


def test_requester_and_wrong_role_cannot_approve(first_run, lifecycle_settings: Settings):
    request = _pending(lifecycle_settings, "staging")
    governance = _governance(lifecycle_settings)
    with pytest.raises(PermissionDenied, match="requester"):
        governance.decide(request.id, "approve", actor=request.requested_by, comment="mine")
    with pytest.raises(PermissionDenied):
        governance.decide(request.id, "approve", actor="mrm_carol", comment="wrong gate role")
    assert governance.get_request(request.id).status == "pending"


def test_approvals_carry_the_model_through_to_monitoring(
    first_run, lifecycle_settings: Settings, quiet: Console
):
    from aurora_pipelines.commands.run import run_and_report
    from aurora_pipelines.status import experiment_status

    governance = _governance(lifecycle_settings)
    governance.decide(
        _pending(lifecycle_settings, "staging").id,
        "approve",
        actor="validator_bob",
        comment="validated",
    )
    second = run_and_report(lifecycle_settings, EXPERIMENT, full=False, console=quiet)
    assert "credit_default/deploy/staging" in second.materialized
    # Continuing never retrains: the approved version is what gets deployed.
    assert "credit_default/train/model" not in second.materialized
    assert [c.asset for c in second.failed_checks] == [
        "credit_default/governance/production_approval"
    ]
    # UAT ran between the gates; the MRM approver sees its report on the request.
    assert "credit_default/serve/uat_scores" in second.materialized
    details = _pending(lifecycle_settings, "production").details
    assert Path(details["uat_report"]).is_file() and details["uat_rows"] > 0
    assert details["uat_metrics"]["roc_auc"] > 0.7 and details["model_card"]

    governance.decide(
        _pending(lifecycle_settings, "production").id,
        "approve",
        actor="mrm_carol",
        comment="MRM sign-off",
    )
    third = run_and_report(lifecycle_settings, EXPERIMENT, full=False, console=quiet)
    assert not third.errors, third.errors
    for key in ("deploy/production", "serve/batch_scores", "monitor/drift"):
        assert f"credit_default/{key}" in third.materialized

    status = json.loads(json.dumps(experiment_status(lifecycle_settings, EXPERIMENT)))
    version = status["model"]["version"]
    assert status["model"]["metrics"]["roc_auc"] > 0.7
    assert status["deployment"] == {"staging": version, "production": version, "fallback": None}
    assert {(a["gate"], a["status"]) for a in status["approvals"]} == {
        ("staging", "approved"),
        ("production", "approved"),
    }
    assert status["drift"]["drift_share"] > 0.3  # the batch is drifted on purpose
    assert Path(status["drift"]["report"]).exists()
    scores = delta.read_pandas(lifecycle_settings.lake_dir / EXPERIMENT / "serve" / "batch_scores")
    assert len(scores) == 2_000 and scores["score"].between(0, 1).all()
    assert set(scores["model_version"]) == {version}
    assert set(scores["role"]) == {"champion"} and set(scores["date"]) == {third.partition}
    assert _governance(lifecycle_settings).verify_audit().ok
    # The production deployment is recorded; its bundle holds both approvals and the card.
    (record, staged) = _governance(lifecycle_settings).list_deployments(EXPERIMENT)
    assert (record.environment, record.champion_version, record.strategy) == (
        "production",
        version,
        "blue_green",
    )
    assert staged.environment == "staging"
    assert [a["gate"] for a in record.details["approvals"]] == ["staging", "production"]


def test_nothing_left_to_run_after_the_lifecycle(lifecycle_settings: Settings, quiet: Console):
    from aurora_pipelines.commands.run import run_and_report

    outcome = run_and_report(lifecycle_settings, EXPERIMENT, full=False, console=quiet)
    assert outcome.up_to_date


def test_sensors_continue_promotions_and_request_retraining(lifecycle_settings: Settings):
    from aurora_pipelines.defs.definitions import build_definitions
    from aurora_pipelines.defs.runner import instance_for

    defs = build_definitions(lifecycle_settings)
    instance = instance_for(lifecycle_settings)
    resources = dict(defs.resources or {})

    approval = defs.get_sensor_def("approval_sensor")
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        # Both approvals were carried out by `aurora run` above: a sensor whose cursor starts
        # at 0 (a new instance, a restarted daemon) must not promote them again.
        assert list(approval(context) or []) == []
    assert int(context.cursor) > 0

    drift = defs.get_sensor_def("credit_default__drift_sensor")
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = drift(context)
    assert isinstance(result, dg.RunRequest)
    assert result.tags["aurora/trigger"] == "drift"
    events = [row["event"] for row in _governance(lifecycle_settings).read_audit()]
    assert "retrain_requested" in events

    schedule = defs.get_schedule_def("credit_default__daily_scoring")
    assert schedule.cron_schedule == "0 6 * * *"
    assert schedule.job_name == "credit_default__score_and_monitor"
    tick = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick) as context:
        (scheduled,) = schedule.evaluate_tick(context).run_requests
    assert scheduled.partition_key == "2026-11-20"  # the day's batch, scored at 06:00 UTC


def test_runs_launched_outside_the_cli_are_audited_once(first_run, lifecycle_settings: Settings):
    from aurora_pipelines.defs.definitions import build_definitions
    from aurora_pipelines.defs.runner import instance_for

    defs = build_definitions(lifecycle_settings)
    instance = instance_for(lifecycle_settings)
    sensor = defs.get_sensor_def("run_audit_sensor")
    cli_run = instance.get_runs(limit=1)[0]
    assert cli_run.tags["aurora/launched_by"] == "cli"
    ui_run = instance.create_run_for_job(
        defs.resolve_job_def("credit_default__score_and_monitor"),
        tags={"aurora/experiment": EXPERIMENT},
    )
    governance = _governance(lifecycle_settings)
    before = len(governance.read_audit(event="run_started"))
    for run in (cli_run, ui_run):
        context = dg.build_run_status_sensor_context(
            sensor_name="run_audit_sensor",
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=dg.DagsterEvent(event_type_value="PIPELINE_START", job_name=run.job_name),
            resources=dict(defs.resources or {}),
        )
        sensor(context)
    rows = governance.read_audit(event="run_started")
    assert len(rows) == before + 1  # the CLI run was audited by the CLI, not again
    assert rows[-1]["correlation_id"] == ui_run.run_id
    assert rows[-1]["target"] == f"dagster_run/{ui_run.run_id}"


def test_one_correlation_id_runs_through_the_run_mlflow_the_audit_and_the_json_log(
    first_run, lifecycle_settings: Settings
):
    from mlflow import MlflowClient

    from aurora_pipelines.defs.runner import instance_for
    from aurora_pipelines.structured_logs import log_path

    run = instance_for(lifecycle_settings).get_run_by_id(first_run.run_id)
    correlation = run.tags["aurora/correlation_id"]
    uri = lifecycle_settings.tracking_uri
    client = MlflowClient(uri, uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    tagged = client.search_runs(
        experiments, filter_string=f"tags.`aurora.correlation_id` = '{correlation}'"
    )
    assert tagged, "no MLflow run carries the Dagster run's correlation id"
    audited = _governance(lifecycle_settings).read_audit(correlation_id=correlation)
    assert {"run_started", "run_finished"} <= {r["event"] for r in audited}
    text = log_path(lifecycle_settings.root).read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    steps = [
        line
        for line in lines
        if line.get("correlation_id") == correlation and line.get("event") == "step_finished"
    ]
    assert {"raw", "train/model"} <= {line["stage"] for line in steps}
    assert {line["run_id"] for line in steps} == {first_run.run_id}
    assert {line["experiment"] for line in steps} == {EXPERIMENT}
