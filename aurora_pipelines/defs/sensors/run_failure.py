"""Run-failure alerts: each failed run is logged as a JSON `run_failed` alert and POSTed to the
webhook in AURORA_ALERT_WEBHOOK_URL, naming the failing steps, their errors and the run's
correlation id (the id of its audit rows, MLflow runs and log lines)."""

import os

import dagster as dg
from dagster._core.events import DagsterEventType

from aurora_pipelines.monitoring.alerts import Alert, emit
from aurora_pipelines.structured_logs import ensure_logging, log_context

WEBHOOK_ENV = "AURORA_ALERT_WEBHOOK_URL"
ERROR_CHARS = 500
OUTSIDE_FAILURE = "This run has been marked as failed from outside the execution context."
STEP_EVENTS = {
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.STEP_SKIPPED,
}


def _root_error(error: object) -> str:
    """The innermost cause of a step's error (the user's message, not Dagster's wrapper)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[attr-defined]
    cls_name = getattr(error, "cls_name", None)
    message = (getattr(error, "message", None) or "").strip()
    return (f"{cls_name}: {message}" if cls_name else message)[:ERROR_CHARS]


def in_flight_steps(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Steps that started and never ended: what a run whose worker died was doing."""
    started: dict[str, None] = {}
    ended: set[str] = set()
    for entry in instance.all_logs(run_id, of_type=STEP_EVENTS):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == DagsterEventType.STEP_START:
            started[event.step_key] = None
        else:
            ended.add(event.step_key)
    return [step for step in started if step not in ended]


def failure_reason(instance: dg.DagsterInstance, run_id: str, message: str) -> str:
    """Why the run failed, in words: its failure message, or, when that only says the run was
    failed from outside (its worker died and its code server noticed), the engine's note of it."""
    if message and message != OUTSIDE_FAILURE:
        return message
    notes = instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
    return next((e.message for e in reversed(notes) if e.message), message)


def run_failure_alert(
    run: dg.DagsterRun,
    failures: list[dg.DagsterEvent],
    webhook_url: str | None,
    reason: str = "",
    in_flight: list[str] | None = None,
) -> tuple[Alert, str | None]:
    """The alert of a failed run, emitted; returns it and the webhook's error, if any.

    `reason` is the run's failure message (for a run whose worker died, run monitoring's) and
    `in_flight` the steps it had started but not ended; a failed step names itself."""
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
    in_flight = in_flight or []
    failed = ", ".join(s["step"] or "?" for s in steps) or ", ".join(in_flight) or "the run"
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
            details={
                "job": run.job_name,
                "failed_steps": steps,
                "in_flight_steps": in_flight,
                "reason": reason[:ERROR_CHARS],
            },
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
        run, failures = context.dagster_run, context.get_step_failure_events()
        _, error = run_failure_alert(
            run,
            failures,
            os.environ.get(WEBHOOK_ENV) or None,
            reason=failure_reason(
                context.instance, run.run_id, context.failure_event.message or ""
            ),
            in_flight=[] if failures else in_flight_steps(context.instance, run.run_id),
        )
        if error:
            context.log.warning(error)

    return run_failure_alert_sensor
