"""The structured log itself: a rotating file that never grows past its limit, every line one
JSON object with the event fields, copied to stderr where stderr is a log stream; lines from a
real service process (`aurora governance serve`) and from a sensor carry their context."""

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest

from aurora_pipelines import structured_logs
from aurora_pipelines.defs.sensors.sla import build_sla_sensor, deadline_hour, last_due_day
from aurora_pipelines.settings import DEFAULT_POLICY
from aurora_pipelines.structured_logs import (
    CONTEXT_FIELDS,
    ROOT_LOGGERS,
    configure_logging,
    log_context,
    log_path,
)
from tests.governance_server import governance_server
from tests.http_receiver import Receiver

BASE_FIELDS = {"time", "level", "logger", "message"}


@pytest.fixture
def restore_handlers() -> Iterator[None]:
    """Put back the process's Aurora log handlers after a test re-points them."""
    saved = {name: list(logging.getLogger(name).handlers) for name in ROOT_LOGGERS}
    yield
    for name, handlers in saved.items():
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if handler not in handlers:
                handler.close()
        logger.handlers = handlers


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_log_file_rotates_at_its_limit_and_keeps_its_backups_only(
    tmp_path, monkeypatch, capsys, restore_handlers
):
    monkeypatch.setattr(structured_logs, "MAX_BYTES", 4_000)
    monkeypatch.setattr(structured_logs, "BACKUPS", 2)
    path = configure_logging(tmp_path, stderr=True)
    log = logging.getLogger("aurora.test_rotation")
    with log_context(experiment="rot", stage="raw", run_id="r-1", correlation_id="c-1", actor="a"):
        for i in range(200):
            log.info("event %d", i, extra={"fields": {"event": "tick", "n": i}})
    files = sorted(path.parent.iterdir())
    assert [f.name for f in files] == ["aurora.jsonl", "aurora.jsonl.1", "aurora.jsonl.2"]
    assert all(f.stat().st_size <= 4_000 for f in files)
    kept = [line for f in files for line in _lines(f)]
    assert 0 < len(kept) < 200  # the oldest lines went with the oldest backup
    for line in kept:
        assert BASE_FIELDS | set(CONTEXT_FIELDS) | {"event", "n"} <= set(line)
        assert line["correlation_id"] == "c-1" and line["logger"] == "aurora.test_rotation"
    assert max(line["n"] for line in _lines(path)) == 199  # the newest is in the live file
    streamed = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["n"] for line in streamed] == list(range(200))  # stderr gets every line


def test_a_governance_api_request_is_a_json_line_under_the_callers_correlation_id(tmp_path):
    home = tmp_path / "home"
    env = {
        "AURORA_HOME": str(home),
        "AURORA_GOVERNANCE_URL": f"sqlite:///{home / 'governance.db'}",
        "AURORA_POLICY": str(DEFAULT_POLICY),
        "AURORA_EXPERIMENTS_DIR": str(tmp_path / "experiments"),
    }
    with governance_server(env) as url:
        headers = {"X-Correlation-ID": "corr-api-9"}
        answer = httpx.get(f"{url}/api/v1/approvals", headers=headers, timeout=30)
        assert answer.status_code == 401  # no token: refused, and still logged
        assert answer.headers["X-Correlation-ID"] == "corr-api-9"
    lines = [line for line in _lines(log_path(home)) if line.get("correlation_id") == "corr-api-9"]
    (line,) = [line for line in lines if line.get("event") == "http_request"]
    assert set(line) >= BASE_FIELDS and line["logger"].startswith("aurora.")
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/approvals", 401)
    datetime.fromisoformat(line["time"])  # an ISO 8601 timestamp, as Splunk/ELK are told


def test_the_sla_sensor_logs_its_missed_day_as_a_json_line(home, monkeypatch):
    with Receiver() as receiver:
        monkeypatch.setenv("AURORA_ALERT_WEBHOOK_URL", receiver.url)
        late = dg.AssetKey(["logs_sla", "serve", "batch_scores"])
        due = last_due_day(datetime.now(UTC), deadline_hour())
        before = (datetime.fromisoformat(due) - timedelta(days=1)).date().isoformat()
        instance = dg.DagsterInstance.ephemeral()
        instance.report_runless_asset_event(dg.AssetMaterialization(late, partition=before))
        build_sla_sensor([late])(dg.build_sensor_context(instance=instance))
        (body,) = receiver.bodies
    (line,) = [line for line in _lines(log_path(home.root)) if line.get("event") == "sla_missed"]
    assert set(line) >= BASE_FIELDS and line["logger"] == "aurora.alerts"
    assert line["window"] == due == body["window"]
    assert line["details"]["asset"] == "logs_sla/serve/batch_scores"
