"""Dagster asset factories; the code lives in the Dagster package, `aurora_pipelines.defs`."""

from aurora_pipelines.defs.assets import build_experiment_assets

__all__ = ["build_experiment_assets"]
