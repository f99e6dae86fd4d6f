"""Dagster resources: typed, configurable adapters from Dagster to the engine's backends."""

from resources.aurora import AuroraResource
from resources.factory import build_resources

__all__ = ["AuroraResource", "build_resources"]
