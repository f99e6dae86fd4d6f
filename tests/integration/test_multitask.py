"""A multi-task experiment (`tasks: [classification, clustering]`): the clustering task is its
own asset group and registered model `<name>_clustering`, reading the parent's raw / features /
scoring-features tables (ingested and featurised once), on real Delta and MLflow."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs

from aurora_pipelines import lifecycle
from aurora_pipelines.lake import delta
from aurora_pipelines.specs import find_spec, load_spec, write_spec
from tests.factories import (
    asset_metadata,
    cli_error,
    cli_workspace,
    home_settings,
    make_spec,
    materialize,
)

REPO_DIR = Path(__file__).resolve().parents[2]
NAME = "shoppers"


def test_a_further_task_is_its_own_group_on_the_parents_data_assets(tmp_path: Path):
    from aurora_pipelines.defs.definitions import build_definitions
    from aurora_pipelines.settings import Settings

    spec = load_spec(REPO_DIR / "experiments" / "credit_default.yaml")
    spec = type(spec).model_validate(
        {**spec.model_dump(exclude_unset=True), "tasks": ["classification", "clustering"]}
    )
    write_spec(tmp_path / "experiments", spec)
    defs = build_definitions(Settings(home=tmp_path, experiments_dir=tmp_path / "experiments"))
    graph = defs.resolve_asset_graph()
    task = "credit_default_clustering"
    groups: dict[str, set[tuple[str, ...]]] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(tuple(key.path))

    own = {path[1:] for path in groups[task]}
    for stage in (
        lifecycle.RECOMMENDATIONS,
        lifecycle.MODEL,
        lifecycle.MODEL_CARD,
        lifecycle.STAGING_APPROVAL,
        lifecycle.STAGING,
        lifecycle.UAT_SCORES,
        lifecycle.PRODUCTION_APPROVAL,
        lifecycle.PRODUCTION,
        lifecycle.BATCH_SCORES,
        lifecycle.DRIFT,
    ):
        assert tuple(stage) in own, stage
    # Nothing ingested or featurised twice: the data stages stay the parent's only.
    assert not own & {tuple(s) for s in lifecycle.SHARED_DATA_STAGES}
    assert all(path[0] == task for path in groups[task])
    assert ("credit_default", "train", "model") in groups["credit_default"]

    def parents(*stage: str) -> set[dg.AssetKey]:
        return graph.get(dg.AssetKey([task, *stage])).parent_keys

    assert dg.AssetKey(["credit_default", "features"]) in parents(*lifecycle.MODEL)
    assert dg.AssetKey(["credit_default", "serve", "scoring_features"]) in parents(
        *lifecycle.BATCH_SCORES
    )
    jobs = {job.name for job in defs.jobs}
    assert {f"{task}__lifecycle", f"{task}__promote_staging", f"{task}__retrain"} <= jobs
    assert f"{task}__refresh_sources" not in jobs  # the parent's sensor refreshes the data


def test_parent_cannot_be_written_by_hand(tmp_path: Path):
    from aurora_pipelines.errors import SpecError

    spec = make_spec("churn", tasks=["classification", "clustering"])
    (task,) = spec.task_specs()[1:]
    assert task.parent == "churn" and task.unsupervised.exclude_columns == [spec.target]
    assert find_spec(write_spec(tmp_path, spec).parent, task.name) == task
    write_spec(tmp_path, task)
    with pytest.raises(SpecError, match="`parent` is set by `tasks:`"):
        load_spec(tmp_path / f"{task.name}.yaml")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, spark):
    from aurora_pipelines.defs.assets.training import build_training_assets

    root = tmp_path_factory.mktemp("multitask")
    settings = home_settings(root)
    spec = make_spec(
        NAME,
        target="bought",
        id_column="customer_id",
        tasks=["classification", "clustering"],
        unsupervised={"algorithms": ["kmeans"], "k_max": 5, "search_rows": 400},
    )
    write_spec(settings.experiments_dir, spec)
    X, y = make_blobs(400, centers=3, n_features=3, cluster_std=0.7, random_state=4)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["customer_id"] = [f"C{i:04d}" for i in range(len(frame))]
    # The parent's target: far from the blobs' scale, it would dominate the clusters if it
    # were an input of the clustering task.
    frame["bought"] = np.where(y == 0, 1, 0)
    # Only the parent's tables exist: the task must find its data there.
    delta.write_table(settings.lake_dir.joinpath(NAME, *lifecycle.FEATURES), frame)
    (task,) = spec.task_specs()[1:]
    assets = build_training_assets(task)
    results = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AURORA_HOME", str(root))
        patch.setenv("AURORA_EXPERIMENTS_DIR", str(settings.experiments_dir))
        for stage in (lifecycle.RECOMMENDATIONS, lifecycle.MODEL):
            key = dg.AssetKey(task.key(*stage))
            results[stage] = materialize(settings, [a for a in assets if key in a.keys])
            assert results[stage].success, stage
    return settings, spec, task, results


def test_the_clustering_task_trains_on_the_parents_features_as_its_own_model(trained):
    from aurora_pipelines.registry import mlflow_registry
    from aurora_pipelines.registry.model_version import load_model_version

    settings, spec, task, results = trained
    metadata = asset_metadata(results[lifecycle.MODEL], task.key(*lifecycle.MODEL))
    assert metadata["k"] == 3.0
    uri = settings.tracking_uri
    version = load_model_version(uri, task.name, "1")
    assert version.problem_type == "clustering"
    assert sorted(version.input_columns) == ["a", "b", "c"]  # neither the target nor the id
    tags = mlflow_registry.version_tags(uri, task.name, "1")
    assert tags["feature_table"].endswith(f"{NAME}/features")
    assert not settings.lake_dir.joinpath(task.name, *lifecycle.FEATURES).exists()
    # The parent's supervised model is another registered model, not trained here.
    assert (settings.reports_dir / task.name / "train" / "recommendations.json").exists()
    with pytest.raises(Exception):  # noqa: B017, PT011 (MLflow's not-found error)
        load_model_version(uri, NAME, "1")


def test_create_needs_no_target_for_an_unsupervised_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], spark
):
    from aurora_pipelines.cli import main

    root = cli_workspace(tmp_path, monkeypatch)
    monkeypatch.setenv("AURORA_GOVERNANCE_URL", f"sqlite:///{tmp_path / 'governance.db'}")
    frame = make_blobs(60, centers=2, n_features=2, random_state=1)[0]
    pd.DataFrame(frame, columns=["x", "y"]).to_csv(tmp_path / "points.csv", index=False)
    common = ["--source", str(tmp_path / "points.csv"), "--dbt-project", str(root / "dbt_project")]
    err = cli_error(capsys, "experiments", "create", "points", *common)
    assert "no target" in err and "--problem clustering" in err
    main(["experiments", "create", "points", *common, "--problem", "clustering"])
    spec = load_spec(root / "experiments" / "points.yaml")
    assert spec.problem_type.value == "clustering" and spec.target is None
