"""train/model's blocking check with no `training.metric_min`: the bound is derived in the
recommended metric, the verdict names it, and the version carries it for UAT."""

from __future__ import annotations

from aurora_pipelines import lifecycle
from aurora_pipelines.defs.assets.training import METRIC_CHECK, build_training_assets
from aurora_pipelines.lake import delta
from aurora_pipelines.registry import mlflow_registry
from aurora_pipelines.settings import Settings
from aurora_pipelines.sources.sample_data import generate_credit_data
from aurora_pipelines.specs import write_spec
from tests.factories import make_spec, materialize


def test_unset_metric_min_gates_on_the_dummy_baseline_of_the_recommended_metric(home: Settings):
    spec = make_spec(
        "bound_default",
        time_column="application_date",
        training={"cv_folds": 3, "max_algorithms": 1, "hpo": {"n_trials": 0}},
    )
    assert spec.training.metric_min is None
    write_spec(home.experiments_dir, spec)
    delta.write_table(
        home.lake_dir.joinpath(spec.name, *lifecycle.FEATURES), generate_credit_data(900, seed=2)
    )
    result = materialize(home, build_training_assets(spec))
    assert result.success

    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == METRIC_CHECK]
    metadata = {k: getattr(v, "value", v) for k, v in check.metadata.items()}
    assert check.passed
    assert metadata["bound_source"] == "baseline"
    assert "average_precision" in metadata and "prevalence" in metadata["bound_reason"]
    # Far below the old fixed 0.70, and above the positives' share.
    assert 0.1 < metadata["bound"] < 0.5
    tags = mlflow_registry.version_tags(home.tracking_uri, spec.name, "1")
    assert float(tags["aurora.metric_bound"]) == metadata["bound"]

    # The spec version trained is recorded and tagged (with the code's commit) on the version
    # and its run.
    from mlflow import MlflowClient

    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.workspace.store import WorkspaceStore

    (version,) = WorkspaceStore(GovernanceStore.from_settings(home)).history(spec.name)
    assert tags["aurora.spec_version"] == "1" and tags["aurora.spec_hash"] == version.content_hash
    run = MlflowClient(home.tracking_uri).get_run(
        mlflow_registry.latest_version(home.tracking_uri, spec.name).run_id
    )
    assert run.data.tags["aurora.spec_hash"] == version.content_hash
    if version.git_commit:
        assert run.data.tags["aurora.git_commit"] == version.git_commit
