"""Run-failure alerts: each failed run is logged as a JSON `run_failed` alert and POSTed to the
webhook in AURORA_ALERT_WEBHOOK_URL, naming the failing steps, their errors and the run's
correlation id (the id of its audit rows, MLflow runs and log lines)."""

import os

import dagster as dg

from aurora_pipelines.monitoring.alerts import Alert, emit
from aurora_pipelines.structured_logs import ensure_logging, log_context

WEBHOOK_ENV = "AURORA_ALERT_WEBHOOK_URL"
ERROR_CHARS = 500


def _root_error(error: object) -> str:
    """The innermost cause of a step's error (the user's message, not Dagster's wrapper)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    cls_name = getattr(error, "cls_name", None)
    message = (getattr(error, "message", None) or "").strip()
    return (f"{cls_name}: {message}" if cls_name else message)[:ERROR_CHARS]


def run_failure_alert(
    run: dg.DagsterRun, failures: list[dg.DagsterEvent], webhook_url: str | None
) -> tuple[Alert, str | None]:
    """The alert of a failed run, emitted; returns it and the webhook's error, if any."""
    tags = run.tags
    steps = [
        {
            "step": event.step_key,
            "error": _root_error(event.step_failure_data.error) if event.step_failure_data else "",
        }
        for event in failures
    ]
    experiment = tags.get("aurora/experiment") or next(
        (s["step"].split("__", 1)[0] for s in steps if s["step"]), run.job_name
    )
    correlation_id = tags.get("aurora/correlation_id") or run.run_id
    failed = ", ".join(s["step"] or "?" for s in steps) or "the run"
    with log_context(
        experiment=experiment,
        run_id=run.run_id,
        correlation_id=correlation_id,
        actor=tags.get("aurora/actor") or tags.get("dagster/user"),
    ):
        alert = Alert(
            event="run_failed",
            severity="error",
            experiment=experiment,
            window=tags.get("dagster/partition", ""),
            message=f"run {run.run_id} of {run.job_name} failed at {failed}",
            details={"job": run.job_name, "failed_steps": steps},
        )
        return alert, emit(alert, webhook_url)


def build_run_failure_sensor() -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="run_failure_alert_sensor",
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts (JSON log line, and a POST to AURORA_ALERT_WEBHOOK_URL when set) on "
        "every failed run, with its failing steps and correlation id.",
    )
    def run_failure_alert_sensor(context: dg.RunFailureSensorContext) -> None:
        from aurora_pipelines.settings import get_settings

        ensure_logging(get_settings().root, stderr=True)
        _, error = run_failure_alert(
            context.dagster_run,
            context.get_step_failure_events(),
            os.environ.get(WEBHOOK_ENV) or None,
        )
        if error:
            context.log.warning(error)

    return run_failure_alert_sensor
