"""The daily SLA: day D's partition of each daily asset with a freshness policy
(`automation.FRESH_BY`) must be materialized by D+1 at AURORA_SLA_DEADLINE_HOUR (UTC, default
the freshness policy's 09:00 deadline). Dagster's freshness policy shows the asset as late; this
sensor alerts, once per missed day (JSON log line, and a POST to AURORA_ALERT_WEBHOOK_URL).

An asset that was never materialized has not started its SLA: a new experiment is not late.
"""

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import dagster as dg

from aurora_pipelines.defs.automation import FRESHNESS_DEADLINE
from aurora_pipelines.defs.sensors.run_failure import WEBHOOK_ENV
from aurora_pipelines.monitoring.alerts import Alert, emit

DEADLINE_ENV = "AURORA_SLA_DEADLINE_HOUR"
# The hour of the freshness policy's daily deadline cron ("0 9 * * *").
DEFAULT_DEADLINE_HOUR = int(FRESHNESS_DEADLINE.split()[1])


def deadline_hour() -> int:
    return int(os.environ.get(DEADLINE_ENV, DEFAULT_DEADLINE_HOUR))


def last_due_day(now: datetime, hour: int) -> str:
    """The latest day whose deadline (the next day at `hour` UTC) has passed at `now`."""
    day = (now - timedelta(hours=hour)).date() - timedelta(days=1)
    return day.isoformat()


def missed_days(
    instance: dg.DagsterInstance, keys: Sequence[dg.AssetKey], now: datetime, hour: int
) -> dict[dg.AssetKey, str]:
    """Daily assets whose last due day is not materialized (of those materialized before)."""
    day = last_due_day(now, hour)
    missed = {}
    for key in keys:
        done = instance.get_materialized_partitions(key)
        if done and day not in done:
            missed[key] = day
    return missed


def sla_alert(key: dg.AssetKey, day: str, hour: int) -> Alert:
    asset = key.to_user_string()
    return Alert(
        event="sla_missed",
        severity="error",
        experiment=key.path[0],
        window=day,
        message=f"{asset}: partition {day} not materialized by {hour:02d}:00 UTC the next day",
        details={"asset": asset, "deadline_hour_utc": hour},
    )


def build_sla_sensor(keys: Sequence[dg.AssetKey]) -> dg.SensorDefinition:
    @dg.sensor(
        name="daily_sla_sensor",
        minimum_interval_seconds=600,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Alerts once per missed day when a daily asset's partition is not "
        f"materialized by the next day at {DEADLINE_ENV} (default {DEFAULT_DEADLINE_HOUR:02d}:00 "
        "UTC, the freshness policy's deadline).",
    )
    def daily_sla_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        from aurora_pipelines.settings import get_settings
        from aurora_pipelines.structured_logs import ensure_logging

        ensure_logging(get_settings().root, stderr=True)
        hour = deadline_hour()
        alerted: dict[str, str] = json.loads(context.cursor or "{}")
        missed = missed_days(context.instance, keys, datetime.now(UTC), hour)
        new = {k: d for k, d in missed.items() if alerted.get(k.to_user_string()) != d}
        for key, day in new.items():
            emit(sla_alert(key, day, hour), os.environ.get(WEBHOOK_ENV) or None)
            alerted[key.to_user_string()] = day
        context.update_cursor(json.dumps(alerted, sort_keys=True))
        if new:
            return dg.SkipReason(f"alerted {len(new)} missed day(s); nothing to launch")
        return dg.SkipReason("every daily asset met its SLA")

    return daily_sla_sensor
