"""Dagster resources; the code lives in the Dagster package, `aurora_pipelines.defs`."""

from aurora_pipelines.defs.resources import *  # noqa: F403
from aurora_pipelines.defs.resources import __all__  # noqa: F401
