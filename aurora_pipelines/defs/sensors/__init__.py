"""Jobs, sensors and schedules: approvals continue promotions, drift requests retraining."""

from aurora_pipelines.defs.jobs import ExperimentJobs, build_experiment_jobs
from aurora_pipelines.defs.sensors.approval import build_approval_sensor
from aurora_pipelines.defs.sensors.canary import build_canary_sensor
from aurora_pipelines.defs.sensors.drift import build_drift_sensor
from aurora_pipelines.defs.sensors.run_audit import build_run_audit_sensor
from aurora_pipelines.defs.sensors.schedules import build_daily_schedule

__all__ = [
    "ExperimentJobs",
    "build_approval_sensor",
    "build_canary_sensor",
    "build_daily_schedule",
    "build_drift_sensor",
    "build_experiment_jobs",
    "build_run_audit_sensor",
]
