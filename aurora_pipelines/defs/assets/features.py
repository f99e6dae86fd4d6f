"""features: the dbt project's feature models as Delta assets, dbt tests as asset checks.

One `@dbt_assets` covers the whole dbt project; the translator files each model under its
experiment (model meta `aurora: {experiment, stage}`), so dbt modelers never touch Python.
"""

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.resources import LakeResource
from aurora_pipelines.lake.dbt_manifest import ensure_manifest


def _aurora_meta(props: Mapping[str, Any]) -> dict[str, str]:
    meta = props.get("meta") or props.get("config", {}).get("meta") or {}
    return meta.get("aurora") or {}


def _source_meta(props: Mapping[str, Any]) -> dict[str, str]:
    """Sources name their experiment in the source's meta, or as `<experiment>_raw`."""
    meta = _aurora_meta(props) or (props.get("source_meta") or {}).get("aurora") or {}
    experiment = meta.get("experiment") or props["source_name"].removesuffix("_raw")
    return {"experiment": experiment, "stage": meta.get("stage") or props["name"]}


class AuroraDbtTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            meta = _source_meta(dbt_resource_props)
            stage = lifecycle.DBT_SOURCE_STAGES.get(meta["stage"], (meta["stage"],))
            return dg.AssetKey([meta["experiment"], *stage])
        meta = _aurora_meta(dbt_resource_props)
        if meta.get("experiment") and meta.get("stage") in lifecycle.DBT_STAGES:
            return dg.AssetKey([meta["experiment"], *lifecycle.DBT_STAGES[meta["stage"]]])
        # Shared staging/helper models live under a `dbt` prefix.
        return dg.AssetKey(["dbt", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return _aurora_meta(dbt_resource_props).get("experiment") or "dbt_shared"

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        meta = _aurora_meta(props)
        if meta.get("stage") == "scoring_features":
            # The scoring chain is ungated: it follows raw_batch (defs/automation.py).
            spec = spec.replace_attributes(automation_condition=dg.AutomationCondition.eager())
        if meta.get("stage") == "features":
            # Feature engineering waits for the EDA quality gate of its experiment.
            profile = dg.AssetKey([meta["experiment"], *lifecycle.PROFILE])
            spec = spec.replace_attributes(deps=[*spec.deps, dg.AssetDep(profile)])
        metadata = {}
        if project is not None and props["resource_type"] == "model":
            # `make dbt-docs` writes the docs site; the link opens this model's page.
            docs = Path(project.project_dir) / "target" / "docs" / "index.html"
            metadata["dbt_docs"] = dg.MetadataValue.url(
                f"{docs.resolve().as_uri()}#!/model/{unique_id}"
            )
        return spec.merge_attributes(kinds={"delta"}, metadata=metadata)


def dbt_project(project_dir: Path, target: str, aurora_home: Path) -> DbtProject:
    project = DbtProject(project_dir=project_dir, profiles_dir=project_dir, target=target)
    # Under `dagster dev` the manifest is rebuilt on load; elsewhere it is built at install
    # time (`make install`) or here, only when a model changed since (a `dbt parse`, no Spark).
    project.prepare_if_dev()
    ensure_manifest(project_dir, aurora_home, target)
    return project


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=AuroraDbtTranslator(),
        name="dbt_feature_models",
    )
    def dbt_feature_models(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: LakeResource
    ) -> Iterator[Any]:
        # `lake` exports AURORA_HOME, which the dbt sources and Delta plugin read.
        yield from dbt.cli(["build"], context=context).stream()

    return dbt_feature_models
