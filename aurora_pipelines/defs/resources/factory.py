"""The resource dict for the code location, built from Settings (no connections opened)."""

from __future__ import annotations

from typing import Any

from dagster_dbt import DbtCliResource

from aurora_pipelines.defs.resources.aurora import AuroraResource
from aurora_pipelines.lake.dbt_manifest import dbt_executable
from aurora_pipelines.settings import Settings


def build_resources(settings: Settings) -> dict[str, Any]:
    return {
        "aurora": AuroraResource.from_settings(settings),
        "dbt": DbtCliResource(
            project_dir=str(settings.dbt_project_dir),
            profiles_dir=str(settings.dbt_project_dir),
            target=settings.dbt_target,
            dbt_executable=dbt_executable(),
        ),
    }
