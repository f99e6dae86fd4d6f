"""Dagster asset factories, one module per lifecycle stage. Thin: they call the engine."""

from aurora_pipelines.defs.assets.factory import build_experiment_assets

__all__ = ["build_experiment_assets"]
