"""Sensors and schedules; the code lives in the Dagster package, `aurora_pipelines.defs`."""

from aurora_pipelines.defs.sensors import *  # noqa: F403
from aurora_pipelines.defs.sensors import __all__  # noqa: F401
