"""Operations: structured JSON logs with the run's context, retries with backoff on steps that
touch external systems (never on gates, never on user errors), the run-failure alert and the
daily SLA alert, both POSTed to a real HTTP receiver on 127.0.0.1."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from aurora_pipelines import lifecycle
from aurora_pipelines.cli import main
from aurora_pipelines.defs.assets.stage_asset import stage_asset
from aurora_pipelines.defs.retries import EXTERNAL_RETRY
from aurora_pipelines.defs.sensors.run_failure import build_run_failure_sensor
from aurora_pipelines.defs.sensors.sla import build_sla_sensor, deadline_hour, last_due_day
from aurora_pipelines.errors import SourceError
from aurora_pipelines.settings import Settings
from aurora_pipelines.structured_logs import CONTEXT_FIELDS, log_path
from tests.factories import make_spec, materialize
from tests.http_receiver import Receiver

TAGS = {"aurora/correlation_id": "corr-ops-1", "aurora/actor": "ds_alice"}


@pytest.fixture
def receiver(monkeypatch):
    with Receiver() as running:
        monkeypatch.setenv("AURORA_ALERT_WEBHOOK_URL", running.url)
        yield running


def _log_lines(root: Path) -> list[dict]:
    return [json.loads(line) for line in log_path(root).read_text().splitlines()]


def _flaky_raw(spec, failures: list[BaseException]) -> tuple[dg.AssetsDefinition, list[int]]:
    """A raw-stage asset that raises `failures` in turn, then succeeds; and its attempt count."""
    attempts: list[int] = []

    @stage_asset(spec, lifecycle.RAW)
    def raw(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        attempts.append(context.retry_number)
        if len(attempts) <= len(failures):
            raise failures[len(attempts) - 1]
        return dg.MaterializeResult(metadata={"attempts": len(attempts)})

    return raw, attempts


def test_steps_on_external_systems_retry_with_backoff_and_gates_never(settings: Settings):
    from aurora_pipelines.defs.definitions import build_definitions

    defs = build_definitions(Settings(home=settings.root))
    policies = {
        key.to_user_string(): defs.get_assets_def(key).op.retry_policy
        for key in defs.resolve_asset_graph().get_all_asset_keys()
    }
    for external in ("raw", "raw_batch", "train/model", "serve/batch_scores"):
        assert policies[f"credit_default/{external}"] == EXTERNAL_RETRY
    assert EXTERNAL_RETRY.backoff == dg.Backoff.EXPONENTIAL and EXTERNAL_RETRY.max_retries >= 2
    gates = [k for k in policies if "/governance/" in k or "/deploy/" in k or "uat" in k]
    assert len(gates) >= 5 and all(policies[k] is None for k in gates)


def test_a_transient_error_is_retried_and_every_step_line_carries_the_run_context(home):
    spec = make_spec("ops_retry")
    raw, attempts = _flaky_raw(spec, [ConnectionError("source reset the connection")])
    result = materialize(home, [raw], tags=TAGS)
    assert result.success and attempts == [0, 1]
    lines = [line for line in _log_lines(home.root) if line["logger"] == "aurora.dagster.step"]
    assert [line["event"] for line in lines] == ["step_started", "step_failed"] * 1 + [
        "step_started",
        "step_finished",
    ]
    for line in lines:
        assert set(CONTEXT_FIELDS) | {"time", "level", "logger", "message"} <= set(line)
        assert line["run_id"] == result.run_id and line["correlation_id"] == "corr-ops-1"
        assert line["experiment"] == "ops_retry" and line["stage"] == "raw"
        assert line["actor"] == "ds_alice"
    assert "source reset the connection" in lines[1]["message"]


def test_a_user_error_is_not_retried(home):
    spec = make_spec("ops_user_error")
    raw, attempts = _flaky_raw(spec, [SourceError("target column 'x' is missing; fix `target`")])
    result = materialize(home, [raw], tags=TAGS)
    assert not result.success and attempts == [0]
    (failure,) = result.get_step_failure_events()
    assert "fix `target`" in failure.step_failure_data.error.message


def test_a_failed_run_alerts_the_webhook_with_its_failing_step_and_correlation_id(home, receiver):
    spec = make_spec("ops_failure")
    raw, _ = _flaky_raw(spec, [SourceError("source table gone; fix `source.table`")])
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(home, [raw], tags=TAGS, instance=instance)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    build_run_failure_sensor()(context)
    (body,) = receiver.bodies
    assert body["event"] == "run_failed" and body["severity"] == "error"
    assert body["correlation_id"] == "corr-ops-1" and body["run_id"] == result.run_id
    assert body["experiment"] == "ops_failure"
    (step,) = body["details"]["failed_steps"]
    assert step["step"] == "ops_failure__raw" and "fix `source.table`" in step["error"]
    alerts = [line for line in _log_lines(home.root) if line.get("event") == "run_failed"]
    assert alerts and alerts[-1]["correlation_id"] == "corr-ops-1"


def test_a_missed_day_is_alerted_once_and_a_met_one_never(home, receiver):
    late, on_time = (
        dg.AssetKey(["ops_sla", "serve", "batch_scores"]),
        dg.AssetKey(["ops_sla", "monitor", "drift"]),
    )
    never = dg.AssetKey(["ops_new", "monitor", "drift"])  # a new experiment is not late
    due = last_due_day(datetime.now(UTC), deadline_hour())
    before = (datetime.fromisoformat(due) - timedelta(days=1)).date().isoformat()
    instance = dg.DagsterInstance.ephemeral()
    for key, day in ((late, before), (on_time, before), (on_time, due)):
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=day))
    sensor = build_sla_sensor([late, on_time, never])
    context = dg.build_sensor_context(instance=instance)
    sensor(context)
    (body,) = receiver.bodies
    assert body["event"] == "sla_missed" and body["window"] == due
    assert body["details"]["asset"] == "ops_sla/serve/batch_scores"
    sensor(dg.build_sensor_context(instance=instance, cursor=context.cursor))
    assert len(receiver.bodies) == 1  # the same missed day is not alerted again


def test_cli_commands_log_start_and_exit_under_one_correlation_id(home, capsys, monkeypatch):
    monkeypatch.setenv("AURORA_CORRELATION_ID", "corr-cli-7")
    monkeypatch.setenv("AURORA_USER", "ds_alice")
    main(["experiments", "list"])
    with pytest.raises(SystemExit):
        main(["experiments", "list", "--bogus"])
    capsys.readouterr()
    lines = [line for line in _log_lines(home.root) if line["logger"] == "aurora.cli"]
    assert [line["event"] for line in lines] == [
        "command_started",
        "command_finished",
        "command_started",
        "command_finished",
    ]
    assert {line["correlation_id"] for line in lines} == {"corr-cli-7"}
    assert {line["actor"] for line in lines} == {"ds_alice"}
    assert lines[1]["exit_code"] == 0 and lines[3]["exit_code"] == 2
    assert lines[0]["command"] == "experiments list" and "--bogus" not in json.dumps(lines)


def test_steps_inside_an_interactive_command_keep_its_stderr_free_of_json(home, capsys):
    from aurora_pipelines.structured_logs import configure_logging

    configure_logging(home.root, stderr=False)  # what the CLI does before `aurora run`
    raw, _ = _flaky_raw(make_spec("ops_quiet"), [])
    assert materialize(home, [raw], tags=TAGS).success
    assert '"step_finished"' not in capsys.readouterr().err
    finished = [line for line in _log_lines(home.root) if line.get("event") == "step_finished"]
    assert [line["experiment"] for line in finished] == ["ops_quiet"]
