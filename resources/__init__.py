"""Dagster resources: the code lives in `aurora_pipelines.defs.resources` (the Dagster package)."""

from aurora_pipelines.defs.resources import *  # noqa: F403
from aurora_pipelines.defs.resources import __all__  # noqa: F401
