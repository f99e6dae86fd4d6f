"""train/recommendations and train/model through Dagster, on a real Delta feature table and a
real MLflow SQLite store: what gets registered, logged and nested — and nothing on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from aurora_pipelines import lifecycle
from aurora_pipelines.cli import main
from aurora_pipelines.defs.assets.training import build_training_assets
from aurora_pipelines.lake import delta
from aurora_pipelines.registry import mlflow_registry
from aurora_pipelines.settings import Settings
from aurora_pipelines.sources.sample_data import generate_credit_data
from aurora_pipelines.specs import ExperimentSpec, write_spec
from aurora_pipelines.training.leaderboard import BASELINES, ENSEMBLE
from tests.factories import asset_metadata, make_spec, materialize

# A small search, so each spec of this file trains in seconds.
SMALL_SPEC = {
    "time_column": "application_date",
    "training": {
        "cv_folds": 3,
        "metric_min": 0.1,
        "max_algorithms": 2,
        # Trials only (no time budget): the count of nested runs below must not depend on load.
        "hpo": {"n_trials": 2, "timeout_seconds": None},
    },
}


def _features(settings: Settings, spec: ExperimentSpec, frame) -> Path:
    write_spec(settings.experiments_dir, spec)
    path = settings.lake_dir.joinpath(spec.name, *lifecycle.FEATURES)
    delta.write_table(path, frame)
    return path


def test_recommendations_drive_training_and_the_model_is_registered_with_its_evidence(
    home: Settings, capsys: pytest.CaptureFixture[str]
):
    spec = make_spec("assets_ok", SMALL_SPEC)
    _features(home, spec, generate_credit_data(900, seed=2))
    result = materialize(home, build_training_assets(spec))
    assert result.success

    recommendations = json.loads(
        home.reports_dir.joinpath(spec.name, "train", "recommendations.json").read_text()
    )
    plan = recommendations["plan"]
    assert plan["sources"]["algorithms"] == "recommended"
    assert plan["algorithms"] == [a["algorithm"] for a in recommendations["algorithms"]][:2]
    assert plan["primary_metric"] == recommendations["primary_metric"] == "average_precision"
    assert plan["validation"] == "time"

    metadata = asset_metadata(result, spec.key(*lifecycle.MODEL))
    # The plain baselines compete beside the plan's algorithms (untuned), as does the soft vote.
    baselines = [a for a in BASELINES["classification"] if a not in plan["algorithms"]]
    assert metadata["best_algorithm"] in [*plan["algorithms"], *baselines, ENSEMBLE]
    assert "| base average_precision | tuned average_precision |" in metadata["leaderboard"]
    assert metadata["primary_metric"] == "average_precision"
    assert metadata["validation"] == "time"

    uri = home.tracking_uri
    latest = mlflow_registry.latest_version(uri, spec.name)
    assert latest is not None and latest.version == "1"
    client = MlflowClient(uri, uri)
    run = client.get_run(latest.run_id)
    assert "holdout_average_precision" in run.data.metrics
    assert run.data.params["validation"] == "time"
    artifacts = {a.path for a in client.list_artifacts(latest.run_id, "plots")}
    assert artifacts == {
        "plots/roc_curve.png",
        "plots/pr_curve.png",
        "plots/confusion_matrix.png",
        "plots/feature_importance.png",
    }
    children = client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{latest.run_id}'"
    )
    # 2 trials x 2 algorithms and one untuned trial per added baseline, each a nested run.
    assert len(children) == 4 + len(baselines)
    assert {c.data.tags["aurora.algorithm"] for c in children} == {*plan["algorithms"], *baselines}
    assert {"leaderboard.json", "leaderboard.md"} <= {
        a.path for a in client.list_artifacts(latest.run_id)
    }
    threshold = mlflow_registry.decision_threshold(uri, spec.name, "1")
    assert threshold is not None and 0 < threshold < 1
    assert (
        f"Decision threshold {threshold:.4f}"
        in client.get_model_version(spec.name, "1").description
    )

    # `aurora suggest --json` reads the same feature table and prints the same ranking.
    main(["suggest", spec.name, "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert [a["algorithm"] for a in printed["algorithms"]] == [
        a["algorithm"] for a in recommendations["algorithms"]
    ]
    for entry in printed["algorithms"]:
        assert {"algorithm", "family", "rank", "reasons", "search_space"} <= set(entry)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("one_class", "single class"),
        ("missing_target", "missing value"),
        ("too_few_rows", "only 4 rows for 3-fold"),
        ("unknown_algorithm", "unknown classification algorithm 'xgboostt'"),
    ],
)
def test_bad_input_fails_training_with_a_clear_error_and_registers_nothing(
    home: Settings, case: str, message: str
):
    frame = generate_credit_data(300, seed=4)
    training = {}
    if case == "one_class":
        frame["default_flag"] = 0
    elif case == "missing_target":
        frame["default_flag"] = frame["default_flag"].astype("float64")
        frame.loc[:9, "default_flag"] = np.nan
    elif case == "too_few_rows":
        frame = frame.head(4)
    else:
        training = {"algorithms": ["xgboostt"]}
    spec = make_spec(f"bad_{case}", SMALL_SPEC, training=training)
    _features(home, spec, frame)
    result = materialize(home, build_training_assets(spec))
    assert not result.success
    errors = [
        str(e.step_failure_data.error.cause or e.step_failure_data.error)
        for e in result.get_step_failure_events()
    ]
    assert any(message in error for error in errors), errors
    assert mlflow_registry.latest_version(home.tracking_uri, spec.name) is None
    client = MlflowClient(home.tracking_uri, home.tracking_uri)
    experiment = client.get_experiment_by_name(spec.name)
    assert experiment is None or not client.search_runs([experiment.experiment_id])


def test_regression_logs_residual_analysis(home: Settings):
    frame = generate_credit_data(600, seed=6)
    frame["loan_amount_k"] = frame["loan_amount"] / 1000
    spec = make_spec(
        "assets_reg",
        target="loan_amount_k",
        problem_type="regression",
        training={
            "algorithms": ["ridge"],
            "primary_metric": "rmse",
            "metric_min": 1e9,
            "cv_folds": 3,
            "hpo": {"n_trials": 1},
        },
    )
    _features(home, spec, frame.drop(columns=["loan_amount"]))
    assert materialize(home, build_training_assets(spec)).success
    latest = mlflow_registry.latest_version(home.tracking_uri, spec.name)
    client = MlflowClient(home.tracking_uri, home.tracking_uri)
    artifacts = {a.path for a in client.list_artifacts(latest.run_id, "plots")}
    assert {"plots/residuals.png", "plots/feature_importance.png"} == artifacts
    metrics = client.get_run(latest.run_id).data.metrics
    assert {"holdout_rmse", "residual_mean", "residual_abs_p95"} <= set(metrics)
    assert mlflow_registry.decision_threshold(home.tracking_uri, spec.name, latest.version) is None
