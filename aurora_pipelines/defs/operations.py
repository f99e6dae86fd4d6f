"""Operations stage: the run-failure alert and the daily SLA over every experiment."""

import dagster as dg

from aurora_pipelines.defs.automation import FRESH_BY
from aurora_pipelines.defs.sensors.run_failure import build_run_failure_sensor
from aurora_pipelines.defs.sensors.sla import build_sla_sensor
from aurora_pipelines.specs import ExperimentSpec


def operations_definitions(specs: list[ExperimentSpec]) -> dg.Definitions:
    keys = [dg.AssetKey(spec.key(*stage)) for spec in specs for stage in FRESH_BY]
    return dg.Definitions(sensors=[build_run_failure_sensor(), build_sla_sensor(keys)])
