"""A spec pinned to Spark MLlib through Dagster: train/model trains on Spark and registers a
Spark-flavour version with its evidence; serve/batch_scores scores with it via `transform`."""

from __future__ import annotations

import dagster as dg
import pytest
from mlflow import MlflowClient
from mlflow.models import Model

from aurora_pipelines import lifecycle
from aurora_pipelines.lake import delta
from aurora_pipelines.recommend import resolve_plan
from aurora_pipelines.registry import mlflow_registry
from aurora_pipelines.settings import Settings
from aurora_pipelines.sources.sample_data import generate_credit_data
from aurora_pipelines.specs import write_spec
from tests.factories import asset_metadata, make_spec, materialize

SPARK_ALGORITHMS = ["spark_logistic_regression"]
# What every spec of this file starts from: pinned to Spark MLlib.
SPARK_SPEC = {
    "time_column": "application_date",
    "training": {
        "algorithms": SPARK_ALGORITHMS,
        "primary_metric": "roc_auc",
        "metric_min": 0.6,
        "decision_threshold": 0.3,
    },
}


def test_spark_pinned_spec_trains_on_spark_registers_with_lineage_and_scores_a_batch(
    home: Settings, spark
):
    from aurora_pipelines.defs.assets.serving import build_serving_assets
    from aurora_pipelines.defs.assets.training import build_training_assets

    spec = make_spec("spark_assets", SPARK_SPEC)
    write_spec(home.experiments_dir, spec)
    frame = generate_credit_data(2500, seed=5)
    features_path = home.lake_dir.joinpath(spec.name, *lifecycle.FEATURES)
    delta.write_table(features_path, frame)

    result = materialize(home, build_training_assets(spec))
    assert result.success
    metadata = asset_metadata(result, spec.key(*lifecycle.MODEL))
    assert metadata["family"] == "spark"
    assert metadata["best_algorithm"] in SPARK_ALGORITHMS
    assert metadata["training_rows"] + metadata["holdout_rows"] == 2500
    (check,) = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["roc_auc"].value == metadata["holdout_roc_auc"]

    uri = home.tracking_uri
    latest = mlflow_registry.latest_version(uri, spec.name)
    assert latest is not None and latest.version == "1"
    client = MlflowClient(uri, uri)
    local = mlflow_registry.download_model(uri, spec.name, "1", home.root / "download")
    assert set(Model.load(str(local)).flavors) >= {"spark"}
    assert "sklearn" not in Model.load(str(local)).flavors
    run = client.get_run(latest.run_id)
    assert run.data.metrics["holdout_roc_auc"] == pytest.approx(metadata["holdout_roc_auc"])
    assert run.data.params["family"] == "spark"
    tags = client.get_model_version(spec.name, "1").tags
    assert tags["aurora.experiment"] == spec.name and tags["aurora.owner"] == "ds_alice"
    assert tags["family"] == "spark" and tags[mlflow_registry.DIGEST_TAG] == latest.digest
    # What every consumer of the version reads (registry/model_version.py): the plan's metric.
    assert tags["aurora.problem_type"] == "classification"
    assert tags["aurora.primary_metric"] == "roc_auc"
    assert tags[mlflow_registry.FEATURE_TABLE_TAG] == str(features_path)
    assert tags[mlflow_registry.FEATURE_TABLE_VERSION_TAG] == str(delta.version(features_path))
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.source_type in {"spark", "delta_table"}
    assert str(features_path) in dataset.dataset.source
    assert mlflow_registry.decision_threshold(uri, spec.name, "1") == pytest.approx(0.3)

    # The model card of a Spark model: no SHAP, said so in the card, instead of failing.
    from aurora_pipelines.defs.assets.explain import build_explain_assets

    delta.write_table(home.lake_dir.joinpath(spec.name, *lifecycle.RAW), frame)
    card_run = materialize(home, build_explain_assets(spec))
    assert card_run.success
    (card_event,) = card_run.get_asset_materialization_events()
    card_meta = {k: v.value for k, v in card_event.materialization.metadata.items()}
    assert card_meta["shap_method"] == "not computed (Spark MLlib model)"
    assert card_meta["holdout_metrics"]["roc_auc"] == pytest.approx(
        metadata["holdout_roc_auc"], abs=1e-4
    )
    card_md = home.reports_dir.joinpath(spec.name, "model_card", "v1", "model_card.md")
    assert "SHAP explanations are not computed for Spark" in card_md.read_text()

    # Batch scoring with the Spark model: the champion's PipelineModel scores via transform.
    mlflow_registry.set_alias(uri, spec.name, "champion", "1")
    batch = generate_credit_data(400, seed=9)
    delta.write_table(home.lake_dir.joinpath(spec.name, *lifecycle.SCORING_FEATURES), batch)
    batch_scores = [
        a
        for a in build_serving_assets(spec)
        if dg.AssetKey(spec.key(*lifecycle.BATCH_SCORES)) in a.keys
    ]
    assert materialize(home, batch_scores, partition="2026-03-01").success
    scores = delta.read_pandas(home.lake_dir.joinpath(spec.name, *lifecycle.BATCH_SCORES))
    assert list(scores.columns) == [
        "application_id",
        "score",
        "prediction",
        "class_probabilities",
        "model_name",
        "model_version",
        "role",
        "scored_at",
        "label",
        "date",
    ]
    assert len(scores) == 400 and set(scores["application_id"]) == set(
        batch["application_id"].astype(str)
    )
    assert scores["score"].between(0, 1).all() and scores["score"].nunique() > 10
    # The registered threshold (0.3), not 0.5, decides the prediction.
    assert (scores["prediction"] == (scores["score"] >= 0.3).astype("int64")).all()
    # Both classes' probabilities, keyed by the Spark label index.
    positive = [dict(p)["1"] for p in scores["class_probabilities"]]
    assert scores["score"].tolist() == pytest.approx(positive)
    assert set(scores["model_version"]) == {"1"} and set(scores["role"]) == {"champion"}
    assert set(scores["date"]) == {"2026-03-01"}


def test_plan_trains_on_spark_when_pinned_and_refuses_mixed_families():
    assert resolve_plan(make_spec("plan_x", SPARK_SPEC), None).family == "spark"
    ridge = make_spec("plan_x", SPARK_SPEC, training={"algorithms": ["ridge"]})
    assert resolve_plan(ridge, None).family == "sklearn"
    from aurora_pipelines.errors import SpecError

    mixed = make_spec(
        "plan_x", SPARK_SPEC, training={"algorithms": ["spark_gbt", "logistic_regression"]}
    )
    with pytest.raises(SpecError, match="mixes Spark MLlib and in-process"):
        resolve_plan(mixed, None)


def test_plan_follows_a_recommendation_that_ranks_spark_first():
    from aurora_pipelines.recommend import recommend_for_frame
    from aurora_pipelines.training.spark_ml import SPARK_METRICS

    unpinned = make_spec("plan_big", time_column="application_date")
    frame = generate_credit_data(1500, seed=3)
    big = recommend_for_frame(frame, unpinned, total_rows=12_000_000)
    plan = resolve_plan(unpinned, big)
    assert plan.family == "spark" and plan.sources["algorithms"] == "recommended"
    assert plan.algorithms and all(a.startswith("spark_") for a in plan.algorithms)
    assert plan.primary_metric in SPARK_METRICS["classification"]
    small = resolve_plan(unpinned, recommend_for_frame(frame, unpinned))
    assert small.family == "sklearn" and not any(a.startswith("spark_") for a in small.algorithms)
