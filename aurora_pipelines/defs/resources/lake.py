"""The lake as a resource: where each experiment's tables and reports live.

The path rules themselves are the engine's (`aurora_pipelines.lake.layout.LakeLayout`); this
resource only says which AURORA_HOME they apply to.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from aurora_pipelines.lake.layout import LakeLayout
from aurora_pipelines.lifecycle import Stage
from aurora_pipelines.settings import Settings
from aurora_pipelines.specs import ExperimentSpec


class LakeResource(dg.ConfigurableResource):
    """Delta tables under `<home>/lake`, reports under `<home>/reports`."""

    home: str = Field(description="AURORA_HOME: the root of everything Aurora writes.")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # dbt subprocesses and MLflow read AURORA_HOME from the environment.
        os.environ["AURORA_HOME"] = self.home

    @property
    def layout(self) -> LakeLayout:
        return LakeLayout(Path(self.home))

    def settings_for(self, actor: str | None) -> Settings:
        """The engine's Settings for this home, acting as `actor` (the run's actor, from its
        tags; None reads as the experiment's team). Stores' URLs come from the environment."""
        return Settings(home=Path(self.home), user=actor)

    def path(self, experiment: str, *parts: str) -> Path:
        """A stage's Delta table, e.g. `path("churn", "features")`."""
        return self.layout.table(experiment, *parts)

    def stage_path(self, spec: ExperimentSpec, stage: Stage) -> Path:
        """A spec's stage table; a task's shared data stages resolve to its parent's."""
        return self.layout.stage_table(spec, stage)

    def report_path(self, experiment: str, *parts: str) -> Path:
        """A report file; its directory is created."""
        return self.layout.report(experiment, *parts)
