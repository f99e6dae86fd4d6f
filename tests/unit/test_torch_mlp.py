"""The torch tabular MLP: sklearn API, seeds, early stopping, class weights, registry round trip."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import r2_score, roc_auc_score

from aurora_pipelines.sources.sample_data import generate_credit_data
from aurora_pipelines.training import ALGORITHMS
from aurora_pipelines.training.torch_mlp import TorchMLPClassifier, TorchMLPRegressor
from tests.factories import register_model, train_model


def _binary(n: int = 1200, seed: int = 0, positive: float = 0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    score = X[:, 0] * X[:, 1] + X[:, 2]
    y = (score > np.quantile(score, 1 - positive)).astype(int)
    return X, y


def test_classifier_follows_the_sklearn_estimator_contract_and_learns():
    X, y = _binary()
    model = TorchMLPClassifier(max_epochs=30, random_state=1)
    assert clone(model).get_params() == model.get_params()
    model.fit(X[:900], y[:900])
    proba = model.predict_proba(X[900:])
    assert proba.shape == (300, 2) and np.allclose(proba.sum(axis=1), 1)
    assert roc_auc_score(y[900:], proba[:, 1]) > 0.85
    assert set(model.predict(X[900:])) <= {0, 1}
    assert list(model.classes_) == [0, 1]


def test_same_seed_gives_identical_models_and_another_seed_does_not():
    X, y = _binary()
    a = TorchMLPClassifier(max_epochs=5, random_state=3).fit(X, y).predict_proba(X)
    b = TorchMLPClassifier(max_epochs=5, random_state=3).fit(X, y).predict_proba(X)
    c = TorchMLPClassifier(max_epochs=5, random_state=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_early_stopping_ends_training_when_validation_loss_stops_improving():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(800, 5)), rng.integers(0, 2, 800)  # pure noise: nothing to learn
    model = TorchMLPClassifier(max_epochs=200, patience=3, random_state=0).fit(X, y)
    assert model.n_epochs_ < 200
    assert model.best_validation_loss_ is not None


def test_balanced_class_weights_raise_the_minority_class_probability():
    X, y = _binary(positive=0.1)
    plain = TorchMLPClassifier(max_epochs=15, random_state=0).fit(X, y)
    weighted = TorchMLPClassifier(max_epochs=15, class_weight="balanced", random_state=0).fit(X, y)
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.1


def test_regressor_predicts_in_target_units():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1500, 3))
    y = 1000 + 250 * X[:, 0] - 100 * X[:, 1] + rng.normal(scale=10, size=1500)
    model = TorchMLPRegressor(max_epochs=60, random_state=0).fit(X[:1200], y[:1200])
    assert r2_score(y[1200:], model.predict(X[1200:])) > 0.95


def test_fitted_model_holds_no_torch_objects():
    X, y = _binary(300)
    model = TorchMLPClassifier(max_epochs=2).fit(X, y)
    for value in vars(model).values():
        items = value if isinstance(value, list) else [value]
        assert all(type(v).__module__.split(".")[0] != "torch" for v in items)


def test_torch_mlp_is_registered_for_both_problem_types_and_trains_in_the_pipeline():
    spec = ALGORITHMS["torch_mlp"]
    assert (
        spec.family == "torch" and spec.supports("classification") and spec.supports("regression")
    )
    df = generate_credit_data(900, seed=8)
    result = train_model(
        df, algorithms=["torch_mlp", "logistic_regression"], seed=2, class_weight=True
    )
    assert {row["algorithm"]: row["family"] for row in result.leaderboard} == {
        "torch_mlp": "torch",
        "logistic_regression": "sklearn",
    }
    assert result.cv["torch_mlp"]["roc_auc"] and all(
        0.5 < v <= 1 for v in result.cv["torch_mlp"]["roc_auc"]
    )


@pytest.mark.parametrize("calibration", ["none", "sigmoid"])
def test_register_then_load_gives_identical_predictions(tmp_path, calibration):
    from aurora_pipelines.registry.mlflow_registry import load_model

    df = generate_credit_data(700, seed=9)
    result = train_model(
        df, algorithms=["torch_mlp"], seed=2, holdout_fraction=0.2, calibration=calibration
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registered = register_model(uri, "torch_model", result, df, "features/torch")
    loaded = load_model(uri, "torch_model", registered.version)
    np.testing.assert_array_equal(
        loaded.predict_proba(df.head(200)), result.model.predict_proba(df.head(200))
    )
