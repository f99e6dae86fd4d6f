"""build_experiment_assets: one typed spec in, the experiment's lifecycle assets out."""

import dagster as dg

from aurora_pipelines.defs.assets.comparison import build_comparison_assets
from aurora_pipelines.defs.assets.deploy import build_deploy_assets
from aurora_pipelines.defs.assets.eda import build_eda_assets
from aurora_pipelines.defs.assets.explain import build_explain_assets
from aurora_pipelines.defs.assets.governance import build_governance_assets
from aurora_pipelines.defs.assets.monitoring import build_monitoring_assets
from aurora_pipelines.defs.assets.raw import build_raw_assets
from aurora_pipelines.defs.assets.serving import build_serving_assets
from aurora_pipelines.defs.assets.training import build_training_assets
from aurora_pipelines.specs import ExperimentSpec


def build_experiment_assets(spec: ExperimentSpec) -> list[dg.AssetsDefinition]:
    """Every non-dbt asset of one experiment (its dbt feature models come from the dbt project)."""
    return [
        *build_raw_assets(spec),
        *build_eda_assets(spec),
        *build_training_assets(spec),
        *build_explain_assets(spec),
        *build_governance_assets(spec),
        *build_deploy_assets(spec),
        *build_serving_assets(spec),
        *build_monitoring_assets(spec),
        *build_comparison_assets(spec),
    ]
