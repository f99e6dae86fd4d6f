"""Monitoring alerts: one JSON line per alert on the `aurora.alerts` logger, and an optional
webhook POST of the same JSON body (spec `monitoring.webhook_url`).

A webhook that is down must not fail the monitoring run that found the problem: its error is
logged as its own event and returned to the caller, which puts it in the asset's metadata.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from aurora_pipelines.structured_logs import current_context

LOGGER = logging.getLogger("aurora.alerts")
WEBHOOK_TIMEOUT_S = 5.0


class Alert(BaseModel):
    event: str  # e.g. drift_error, drift_warn, performance_degraded
    severity: Literal["warn", "error"]
    experiment: str
    window: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    ts: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())
    # The id that ties the alert to the run, its audit rows and log lines (structured_logs):
    # the log context's where the alert is raised, unless given.
    correlation_id: str | None = Field(
        default_factory=lambda: current_context().get("correlation_id")
    )
    run_id: str | None = Field(default_factory=lambda: current_context().get("run_id"))


def emit(alert: Alert, webhook_url: str | None = None) -> str | None:
    """Log the alert as a JSON line and POST it to the webhook; returns the webhook's error."""
    body = alert.model_dump(mode="json")
    level = logging.ERROR if alert.severity == "error" else logging.WARNING
    LOGGER.log(level, json.dumps({"logger": "aurora.alerts", **body}, sort_keys=True))
    if not webhook_url:
        return None
    import httpx

    try:
        response = httpx.post(webhook_url, json=body, timeout=WEBHOOK_TIMEOUT_S)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        error = f"webhook {webhook_url} failed: {exc}"
        LOGGER.error(
            json.dumps({"event": "alert_webhook_failed", "alert": alert.event, "error": error})
        )
        return error
    return None
