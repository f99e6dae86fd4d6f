"""Sensors and schedules: approvals continue promotions, drift requests retraining, new source
data refreshes raw, the canary controller steps canaries."""

from aurora_pipelines.defs.sensors.approval import build_approval_sensor
from aurora_pipelines.defs.sensors.canary import build_canary_job, build_canary_sensor
from aurora_pipelines.defs.sensors.drift import build_drift_sensor
from aurora_pipelines.defs.sensors.new_data import build_new_data_sensor
from aurora_pipelines.defs.sensors.run_audit import build_run_audit_sensor
from aurora_pipelines.defs.sensors.schedules import build_daily_schedule

__all__ = [
    "build_approval_sensor",
    "build_canary_job",
    "build_canary_sensor",
    "build_daily_schedule",
    "build_drift_sensor",
    "build_new_data_sensor",
    "build_run_audit_sensor",
]
