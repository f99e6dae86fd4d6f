"""Dagster resources: typed, configurable adapters from Dagster to the engine's backends."""

from aurora_pipelines.defs.resources.aurora import AuroraResource
from aurora_pipelines.defs.resources.factory import build_resources

__all__ = ["AuroraResource", "build_resources"]
