"""Training: best-by-metric selection, determinism, leak-free preprocessing, bad-input errors."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from aurora_pipelines.errors import DataError, SourceError, SpecError
from aurora_pipelines.sources.sample_data import (
    ID_COLUMN,
    TARGET,
    TIME_COLUMN,
    generate_credit_data,
)
from aurora_pipelines.training import ALGORITHMS
from aurora_pipelines.training.algorithms import get_algorithm, known_algorithms
from tests.factories import train_model

ALGOS = ["logistic_regression", "hist_gradient_boosting", "random_forest"]


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return generate_credit_data(3000, seed=3)


# Three algorithms with this file's seed; a test's keywords override them.
_train = functools.partial(train_model, algorithms=ALGOS, seed=7)


@pytest.fixture(scope="module")
def trained(credit):
    return _train(credit)


def _means(result, metric: str) -> dict[str, float]:
    return {algo: float(np.mean(scores[metric])) for algo, scores in result.cv.items()}


def test_best_algorithm_has_the_highest_mean_of_a_higher_is_better_metric(trained):
    means = _means(trained, "roc_auc")
    assert trained.best_algorithm == max(means, key=means.get)
    singles = [row for row in trained.leaderboard if row["role"] != "ensemble"]
    assert [row["algorithm"] for row in singles] == sorted(
        (name for name in means if name != "soft_voting_ensemble"), key=means.get, reverse=True
    )
    assert trained.metrics["roc_auc"] == pytest.approx(means[trained.best_algorithm])
    assert set(trained.cv) == set(ALGOS)
    assert all(len(v) == 3 for scores in trained.cv.values() for v in scores.values())


def test_best_algorithm_has_the_lowest_mean_of_a_lower_is_better_metric(credit):
    result = _train(credit, primary_metric="log_loss", algorithms=ALGOS[:2])
    means = _means(result, "log_loss")
    assert result.best_algorithm == min(means, key=means.get)
    assert result.leaderboard[0]["log_loss"] <= result.leaderboard[1]["log_loss"]
    assert [row["rank"] for row in result.leaderboard] == [1, 2]


def test_training_is_deterministic_for_the_same_seed_and_data(credit, trained):
    again = _train(credit)
    assert again.cv == trained.cv
    assert again.best_algorithm == trained.best_algorithm
    np.testing.assert_array_equal(
        again.model.predict_proba(credit.head(200)), trained.model.predict_proba(credit.head(200))
    )


def test_id_target_and_date_columns_are_not_features(trained, credit):
    assert ID_COLUMN not in trained.feature_columns
    assert TIME_COLUMN not in trained.feature_columns
    assert TARGET not in trained.feature_columns
    # An object column of datetime.date values is a date too, even unnamed by the caller.
    assert "last_delinquency_date" not in trained.feature_columns
    assert {"employment_type", "has_cosigner", "credit_score"} <= set(trained.feature_columns)
    # The refit model scores raw rows (with their extra columns) as they come from the lake.
    proba = trained.model.predict_proba(credit.head(5))
    assert proba.shape == (5, 2)


def test_result_reports_class_balance_params_and_row_count(trained, credit):
    assert trained.n_rows == len(credit)
    assert set(trained.class_balance) == {"0", "1"}
    assert sum(trained.class_balance.values()) == pytest.approx(1.0)
    assert trained.class_balance["1"] == pytest.approx(credit[TARGET].mean(), abs=1e-6)
    assert trained.params["algorithm"] == trained.best_algorithm
    assert set(trained.metrics) == {"roc_auc", "average_precision", "accuracy", "f1", "log_loss"}
    assert 0.6 < trained.metrics["roc_auc"] <= 1.0


def test_missing_categories_are_imputed_not_learned_as_a_category(trained, credit):
    assert credit["employment_type"].isna().any()
    encoder = (
        trained.model.named_steps["preprocess"]
        .named_transformers_["categorical"]
        .named_steps["onehot"]
    )
    for categories in encoder.categories_:
        assert not any(c is None or (isinstance(c, float) and np.isnan(c)) for c in categories)
    # None and NaN at scoring time are both imputed, not rejected.
    rows = credit.head(2).copy()
    rows["employment_type"] = pd.Series([None, np.nan], index=rows.index, dtype=object)
    assert trained.model.predict_proba(rows).shape == (2, 2)


def test_regression_picks_lowest_rmse(credit):
    df = credit.drop(columns=[TARGET]).assign(
        income_k=credit["annual_income"].fillna(50_000) / 1000 + credit["age"]
    )
    df = df.drop(columns=["annual_income"])
    result = _train(
        df,
        target="income_k",
        problem_type="regression",
        algorithms=["ridge", "hist_gradient_boosting"],
        primary_metric="rmse",
    )
    means = _means(result, "rmse")
    assert result.best_algorithm == min(means, key=means.get)
    assert set(result.metrics) == {"rmse", "mae", "r2"}
    assert result.class_balance is None


def test_unknown_algorithm_lists_the_known_ones_for_the_problem_type(credit):
    with pytest.raises(SpecError) as err:
        _train(credit, algorithms=["ridge"])
    message = str(err.value)
    assert "ridge" in message and "logistic_regression" in message
    # `ridge` is a regression algorithm: it must not be offered for classification.
    assert "known: hist_gradient_boosting, lightgbm, logistic_regression, random_forest" in message


def test_unknown_primary_metric_is_a_spec_error(credit):
    with pytest.raises(SpecError, match="unknown classification metric 'rmse'.*roc_auc"):
        _train(credit, primary_metric="rmse")


def test_unknown_problem_type_is_a_spec_error(credit):
    with pytest.raises(SpecError, match="problem type 'clustering'"):
        _train(credit, problem_type="clustering")


def test_missing_target_column_is_a_source_error(credit):
    with pytest.raises(SourceError, match="target 'churned' is not a column"):
        _train(credit, target="churned")


def test_single_class_target_is_refused(credit):
    df = credit.assign(**{TARGET: 0})
    with pytest.raises(DataError, match="single class"):
        _train(df)


def test_missing_target_values_are_refused_with_their_count(credit):
    df = credit.copy()
    df[TARGET] = df[TARGET].astype("float64")
    df.loc[df.index[:17], TARGET] = np.nan
    with pytest.raises(DataError, match="has 17 missing value"):
        _train(df)


def test_fewer_rows_than_folds_need_is_refused(credit):
    with pytest.raises(DataError, match="only 5 rows for 3-fold"):
        _train(credit.head(5))


def test_class_smaller_than_fold_count_is_refused(credit):
    df = pd.concat([credit[credit[TARGET] == 0].head(50), credit[credit[TARGET] == 1].head(2)])
    with pytest.raises(DataError, match="fewer members than the 3 folds"):
        _train(df)


def test_non_numeric_regression_target_is_refused(credit):
    with pytest.raises(DataError, match="regression needs a numeric target"):
        _train(
            credit,
            target="region",
            problem_type="regression",
            algorithms=["ridge"],
            primary_metric="rmse",
        )


def test_continuous_classification_target_is_refused(credit):
    with pytest.raises(DataError, match="continuous values"):
        _train(credit, target="interest_rate")


def test_registry_is_open_for_new_algorithms():
    assert known_algorithms("regression") == [
        "hist_gradient_boosting",
        "lightgbm",
        "linear_regression",
        "random_forest",
        "ridge",
        "spark_gbt",
        "spark_linear_regression",
        "spark_random_forest",
        "torch_mlp",
        "xgboost",
    ]
    assert get_algorithm("random_forest", "regression") is ALGORITHMS["random_forest"]
