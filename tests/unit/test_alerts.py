"""Alerts: a JSON log line always; a webhook that is down is reported, never raised."""

from __future__ import annotations

import json
import logging
import socket

from aurora_pipelines.monitoring.alerts import Alert, emit


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_alert_is_a_json_log_line_and_a_dead_webhook_is_returned_not_raised(caplog):
    alert = Alert(
        event="drift_error",
        severity="error",
        experiment="exp",
        window="2026-11-20",
        message="drift share 0.5 > 0.3",
        details={"drift_share": 0.5},
    )
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    with caplog.at_level(logging.WARNING, logger="aurora.alerts"):
        error = emit(alert, url)
    assert error is not None and url in error
    lines = [json.loads(r.getMessage()) for r in caplog.records]
    assert lines[0]["event"] == "drift_error" and lines[0]["details"] == {"drift_share": 0.5}
    assert lines[0]["severity"] == "error" and caplog.records[0].levelno == logging.ERROR
    assert lines[1]["event"] == "alert_webhook_failed"


def test_warn_alert_without_webhook_logs_a_warning(caplog):
    alert = Alert(event="drift_warn", severity="warn", experiment="e", window="w", message="m")
    with caplog.at_level(logging.WARNING, logger="aurora.alerts"):
        assert emit(alert) is None
    assert caplog.records[0].levelno == logging.WARNING
