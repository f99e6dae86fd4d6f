"""Dagster asset factories: the code lives in `aurora_pipelines.defs.assets` (the Dagster package)."""

from aurora_pipelines.defs.assets import build_experiment_assets

__all__ = ["build_experiment_assets"]
