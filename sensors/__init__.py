"""Sensors and schedules: the code lives in `aurora_pipelines.defs.sensors` (the Dagster package)."""

from aurora_pipelines.defs.sensors import *  # noqa: F403
from aurora_pipelines.defs.sensors import __all__  # noqa: F401
