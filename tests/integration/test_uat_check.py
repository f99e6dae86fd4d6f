"""The serve/uat_scores asset check through Dagster, on real Spark, Delta and MLflow: the UAT
metric is the one the version was trained on, judged in that metric's direction."""

from __future__ import annotations

import json

import dagster as dg
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes

from aurora_pipelines import lifecycle
from aurora_pipelines.deploy.uat import UAT_CHECK, UatReport, uat_report_dir, uat_verdict
from aurora_pipelines.lake import delta
from aurora_pipelines.registry.model_version import load_model_version
from aurora_pipelines.settings import Settings
from aurora_pipelines.sources.sample_data import ID_COLUMN, TARGET, generate_credit_data
from aurora_pipelines.specs import ExperimentSpec
from tests.factories import make_spec, materialize, register_model, train_model

UAT_SPEC = {"training": {"holdout_fraction": 0.3}}


def _stage(settings: Settings, spec: ExperimentSpec, frame: pd.DataFrame, metric: str) -> str:
    """Train, register (tagged with `metric`) and move `staging` to the version, as the
    staging gate leaves it; the feature table in Delta."""
    features = settings.lake_dir.joinpath(spec.name, *lifecycle.FEATURES)
    delta.write_table(features, frame)
    algorithm = "ridge" if spec.problem_type.value == "regression" else "logistic_regression"
    result = train_model(
        frame,
        target=spec.target,
        problem_type=spec.problem_type.value,
        algorithms=[algorithm],
        cv_folds=2,
        primary_metric=metric,
        id_column=spec.id_column,
        time_column=None,
    )
    return register_model(settings, spec.name, result, frame, features, alias="staging").version


def _run_uat_asset(settings: Settings, spec: ExperimentSpec):
    from aurora_pipelines.defs.assets.deploy import build_deploy_assets

    key = dg.AssetKey(spec.key(*lifecycle.UAT_SCORES))
    result = materialize(settings, [a for a in build_deploy_assets(spec) if key in a.keys])
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == UAT_CHECK
    (event,) = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.materialization.metadata.items()}
    return check, metadata


def test_a_regression_version_with_rmse_above_the_bound_fails_the_uat_check(
    settings: Settings, spark
):
    data = load_diabetes(as_frame=True)
    frame = data.frame.rename(columns={"target": "progression"})
    frame["id"] = [f"P{i:03d}" for i in range(len(frame))]
    # rmse on diabetes progression is ~55: a bound of 1.0 cannot be met.
    spec = make_spec(
        "uat_check_rmse",
        UAT_SPEC,
        target="progression",
        problem_type="regression",
        id_column="id",
        training={"primary_metric": "rmse", "metric_min": 1.0},
    )
    version = _stage(settings, spec, frame, "rmse")

    check, metadata = _run_uat_asset(settings, spec)
    rmse = metadata["uat_rmse"]
    assert rmse > 1.0
    assert not check.passed
    assert check.metadata["direction"].value == "max" and check.metadata["metric"].text == "rmse"
    assert "at most the spec bound 1.0" in check.description

    # The same report against a bound above its rmse passes: a maximum, not a minimum.
    folder = uat_report_dir(settings.reports_dir, spec.name, version)
    report = UatReport(**json.loads((folder / "uat_report.json").read_text()))
    handle = load_model_version(settings.tracking_uri, spec.name, version)
    assert uat_verdict(report, handle, rmse + 1.0).passed
    assert not uat_verdict(report, handle, rmse - 1.0).passed


def test_uat_is_judged_on_the_metric_the_version_was_trained_on(settings: Settings, spark):
    frame = generate_credit_data(1500, seed=7)
    # The spec names accuracy; the plan trained (and tagged) roc_auc.
    spec = make_spec(
        "uat_check_trained_metric",
        UAT_SPEC,
        target=TARGET,
        id_column=ID_COLUMN,
        training={"primary_metric": "accuracy", "metric_min": 0.7},
    )
    _stage(settings, spec, frame, "roc_auc")

    check, metadata = _run_uat_asset(settings, spec)
    assert metadata["primary_metric"] == "roc_auc"
    assert "uat_roc_auc" in metadata and "uat_accuracy" not in metadata
    assert check.metadata["metric"].text == "roc_auc"
    auc = metadata["uat_roc_auc"]
    assert check.metadata["value"].value == pytest.approx(auc)
    assert check.passed == (auc >= 0.7)
