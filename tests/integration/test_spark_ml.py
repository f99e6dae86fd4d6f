"""Spark MLlib family on a real local Spark session: train, pick by holdout, save, load, score."""

from __future__ import annotations

import pytest

from aurora_pipelines.errors import SpecError
from aurora_pipelines.recommend import recommend_for_frame
from aurora_pipelines.sources.sample_data import (
    ID_COLUMN,
    TARGET,
    TIME_COLUMN,
    generate_credit_data,
)
from aurora_pipelines.training import train_experiment
from aurora_pipelines.training.spark_ml import load_spark_model, save_spark_model, train_spark
from tests.factories import make_spec


@pytest.fixture(scope="module")
def credit_frame(spark):
    frame = generate_credit_data(3000, seed=11).drop(columns=["last_delinquency_date"])
    return spark.createDataFrame(frame)


@pytest.fixture(scope="module")
def trained(credit_frame):
    return train_spark(
        credit_frame,
        target=TARGET,
        problem_type="classification",
        algorithms=["spark_logistic_regression", "spark_gbt"],
        primary_metric="roc_auc",
        seed=3,
        id_column=ID_COLUMN,
        time_column=TIME_COLUMN,
        params={"spark_gbt": {"maxIter": 10, "maxDepth": 3}},  # small: a test, not a benchmark
    )


def test_spark_family_trains_and_ranks_by_the_holdout_metric(trained):
    board = trained.leaderboard
    assert [row["rank"] for row in board] == [1, 2]
    assert board[0]["roc_auc"] >= board[1]["roc_auc"]
    assert trained.best_algorithm == board[0]["algorithm"]
    assert trained.metrics["roc_auc"] > 0.65
    assert ID_COLUMN not in trained.feature_columns and TIME_COLUMN not in trained.feature_columns
    assert "employment_type" in trained.feature_columns  # strings indexed inside the pipeline
    assert trained.n_train_rows + trained.n_holdout_rows == 3000


def test_saved_pipeline_loads_and_scores_identically(trained, credit_frame, tmp_path):
    path = save_spark_model(trained.model, tmp_path / "spark_model")
    assert (path / "metadata").is_dir() and not list(path.rglob("*.pkl"))
    loaded = load_spark_model(path)
    new_rows = credit_frame.limit(50)
    before = [r.probability[1] for r in trained.model.transform(new_rows).collect()]
    after = [r.probability[1] for r in loaded.transform(new_rows).collect()]
    assert before == after


def test_spark_regression_and_bad_requests(credit_frame):
    result = train_spark(
        credit_frame,
        target="interest_rate",
        problem_type="regression",
        algorithms=["spark_linear_regression", "spark_random_forest"],
        params={"spark_random_forest": {"numTrees": 10}},
        primary_metric="rmse",
        seed=1,
        id_column=ID_COLUMN,
        time_column=TIME_COLUMN,
    )
    assert result.leaderboard[0]["rmse"] <= result.leaderboard[1]["rmse"]
    with pytest.raises(SpecError, match="not Spark MLlib algorithms"):
        train_spark(
            credit_frame,
            target=TARGET,
            problem_type="classification",
            algorithms=["hist_gradient_boosting"],
            primary_metric="roc_auc",
            seed=1,
        )
    with pytest.raises(SpecError, match="train on Spark"):
        train_experiment(
            generate_credit_data(200, seed=1),
            target=TARGET,
            problem_type="classification",
            algorithms=["spark_gbt"],
            cv_folds=3,
            seed=1,
            primary_metric="roc_auc",
        )


def test_recommendations_put_spark_first_beyond_the_single_node_limit():
    spec = make_spec("big", source={"kind": "table", "table": "db.t"})
    sample = generate_credit_data(2000, seed=2)
    big = recommend_for_frame(sample, spec, total_rows=12_000_000)
    assert big.algorithms[0].family == "spark"
    assert "12,000,000 rows" in " ".join(big.algorithms[0].reasons)
    small = recommend_for_frame(sample, spec)
    assert small.algorithms[0].family == "sklearn"
    assert all(s.rank > 3 for s in small.algorithms if s.family == "spark")


def test_spark_model_is_logged_with_mlflow_spark_and_loads_without_pickle(
    trained, credit_frame, tmp_path
):
    from aurora_pipelines.registry.mlflow_registry import load_model, log_and_register_spark

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registered = log_and_register_spark(
        trained,
        tracking_uri=uri,
        artifact_root=tmp_path / "artifacts",
        experiment_name="spark_credit",
        registered_model_name="spark_credit",
        tags={"aurora.team": "risk"},
    )
    assert registered.digest.startswith("sha256:")
    loaded = load_model(uri, "spark_credit", registered.version)
    rows = credit_frame.limit(20)
    assert [r.prediction for r in loaded.transform(rows).collect()] == [
        r.prediction for r in trained.model.transform(rows).collect()
    ]
