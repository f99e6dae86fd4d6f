"""The MLflow tracking server and model registry as a resource."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:
    from aurora_pipelines.registry.model_version import ModelVersion


class MlflowRegistryResource(dg.ConfigurableResource):
    """MLflow at `tracking_uri` (the same URI serves the registry); new experiments store their
    artifacts under `artifact_root`.

    Configure `tracking_uri` with `dg.EnvVar(...)` when it carries credentials (a PostgreSQL
    backend), so the UI shows the variable's name, not its value.
    """

    tracking_uri: str = Field(description="sqlite:///..., postgresql://... or http://host:5000")
    artifact_root: str = Field(description="Default artifact location of new experiments.")

    @property
    def artifacts_dir(self) -> Path:
        return Path(self.artifact_root)

    def alias_version(self, model_name: str, alias: str) -> str | None:
        from aurora_pipelines.registry import mlflow_registry

        return mlflow_registry.get_alias_version(self.tracking_uri, model_name, alias)

    def load(self, model_name: str, version: str, **fallbacks: str) -> ModelVersion:
        """The model-version handle (model, input columns, threshold, metric, classes)."""
        from aurora_pipelines.registry.model_version import load_model_version

        return load_model_version(self.tracking_uri, model_name, version, **fallbacks)
