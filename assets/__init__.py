"""Dagster asset factories; the code lives in the Dagster package, `aurora_pipelines.defs`."""

from aurora_pipelines.defs.assets.comparison import build_comparison_assets
from aurora_pipelines.defs.assets.deploy import build_deploy_assets
from aurora_pipelines.defs.assets.eda import build_eda_assets
from aurora_pipelines.defs.assets.explain import build_explain_assets
from aurora_pipelines.defs.assets.features import build_dbt_assets
from aurora_pipelines.defs.assets.governance import build_governance_assets
from aurora_pipelines.defs.assets.monitoring import build_monitoring_assets
from aurora_pipelines.defs.assets.raw import build_raw_assets
from aurora_pipelines.defs.assets.serving import build_serving_assets
from aurora_pipelines.defs.assets.training import build_training_assets

__all__ = [
    "build_comparison_assets",
    "build_dbt_assets",
    "build_deploy_assets",
    "build_eda_assets",
    "build_explain_assets",
    "build_governance_assets",
    "build_monitoring_assets",
    "build_raw_assets",
    "build_serving_assets",
    "build_training_assets",
]
