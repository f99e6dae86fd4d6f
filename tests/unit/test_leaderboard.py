"""LightGBM / XGBoost as algorithms, plain baselines, base vs tuned rows, mode, ensembles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aurora_pipelines.errors import IntegrityError, SpecError
from aurora_pipelines.registry.mlflow_registry import _check_trusted, skops_trusted_types
from aurora_pipelines.sources.sample_data import TARGET, generate_credit_data
from aurora_pipelines.training.hpo import HpoConfig, SearchOutcome
from aurora_pipelines.training.leaderboard import ENSEMBLE, leaderboard_markdown, soft_vote
from tests.factories import train_model


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return generate_credit_data(600, seed=5)


@pytest.fixture(scope="module")
def tuned(credit):
    # Baselines on, two trials per algorithm in small spaces: the cheapest run with base and
    # tuned rows.
    small = {"n_estimators": {"type": "int", "low": 20, "high": 60, "default": 40}}
    return train_model(
        credit,
        algorithms=["lightgbm", "xgboost"],
        search_spaces={"lightgbm": small, "xgboost": small},
        hpo=HpoConfig(n_trials=2, timeout_seconds=None, pruning=False),
        class_weight="search",
        baselines=True,
        ensemble_top_k=3,
    )


def test_every_leaderboard_has_the_plain_baselines_beside_the_requested_algorithms(tuned):
    roles = {row["algorithm"]: row["role"] for row in tuned.leaderboard}
    assert roles["lightgbm"] == roles["xgboost"] == "candidate"
    assert roles["hist_gradient_boosting"] == roles["logistic_regression"] == "baseline"
    baseline = next(r for r in tuned.leaderboard if r["algorithm"] == "hist_gradient_boosting")
    # Untuned defaults, no class weight: exactly HistGradientBoostingClassifier().
    assert baseline["trials"] == 1 and baseline["params"] == {}


def test_rows_show_base_and_tuned_scores_with_spread_and_fit_time(tuned):
    lightgbm = next(r for r in tuned.leaderboard if r["algorithm"] == "lightgbm")
    assert "class_weight" in lightgbm["base_params"]  # searched: LightGBM takes weights
    for row in (r for r in tuned.leaderboard if r["role"] == "candidate"):
        assert row["trials"] == 2
        # Trial 0 is the library's defaults, unweighted; tuning can only keep or beat it.
        assert row["base_params"].get("class_weight") is None
        assert row["base_params"]["n_estimators"] == 40
        assert row["roc_auc"] >= row["base_roc_auc"]
        assert row["roc_auc_std"] >= 0 and row["base_roc_auc_std"] >= 0
        assert row["fit_seconds"] > 0 and row["base_fit_seconds"] > 0
    table = leaderboard_markdown(tuned.leaderboard, "roc_auc")
    assert "| base roc_auc | tuned roc_auc | CV std |" in table
    assert table.count("\n") == len(tuned.leaderboard) + 1


def test_the_chosen_model_is_never_below_a_baseline_on_cv(tuned):
    baselines = [r["roc_auc"] for r in tuned.leaderboard if r["role"] == "baseline"]
    assert tuned.metrics["roc_auc"] >= max(baselines)


def test_the_ensemble_is_always_recorded_and_chosen_only_beyond_the_noise(tuned):
    row = next(r for r in tuned.leaderboard if r["role"] == "ensemble")
    assert len(row["members"]) == 3
    assert row["chosen"] == (row["gain"] > row["noise"])
    assert (tuned.best_algorithm == ENSEMBLE) == row["chosen"]


def test_boosting_models_predict_string_labels_and_store_with_exact_trusted_types(credit):
    frame = credit.assign(**{TARGET: credit[TARGET].map({0: "repaid", 1: "default"})})
    for algorithm in ("lightgbm", "xgboost"):
        result = train_model(frame, algorithms=[algorithm])
        assert set(result.model.predict(frame.head(50))) <= {"repaid", "default"}
        types = skops_trusted_types(result.model)
        assert any(t.startswith(("lightgbm.", "xgboost.")) for t in types)
    # A name outside the exact list is refused, even from the same library.
    with pytest.raises(IntegrityError, match="lightgbm.callback.EarlyStopException"):
        _check_trusted(["lightgbm.callback.EarlyStopException"], what="model")


def test_base_mode_trains_defaults_only(credit):
    result = train_model(
        credit,
        algorithms=["lightgbm", "logistic_regression"],
        mode="base",
        hpo=HpoConfig(n_trials=5, timeout_seconds=None),
    )
    assert result.mode == "base" and result.params["mode"] == "base"
    assert all(row["trials"] == 1 for row in result.leaderboard)
    assert all(row["roc_auc"] == row["base_roc_auc"] for row in result.leaderboard)
    with pytest.raises(SpecError, match="training mode 'fast'"):
        train_model(credit, mode="fast")


def _outcome(scores: list[float], oof: np.ndarray) -> SearchOutcome:
    return SearchOutcome(params={}, scores={"mse": scores}, oof=oof, trials=[])


def test_soft_vote_is_chosen_only_when_its_gain_exceeds_the_paired_fold_noise():
    y = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    splits = [(np.array([2, 3, 4, 5]), np.array([0, 1])), (np.array([0, 1]), np.array([2, 3]))]
    splits.append((np.array([0, 1, 2, 3]), np.array([4, 5])))

    def score(idx: np.ndarray, pred: np.ndarray) -> dict[str, float]:
        return {"mse": float(np.mean((pred[:, 0] - y[idx]) ** 2))}

    # Errors of opposite sign cancel in the average: a large, consistent gain.
    high, low = (y + 1.0).reshape(-1, 1), (y - 1.0).reshape(-1, 1)
    rows = [{"algorithm": "a"}, {"algorithm": "b"}]
    outcomes = {"a": _outcome([1.0, 1.0, 1.0], high), "b": _outcome([1.0, 1.0, 1.0], low)}
    kwargs = {"primary": "mse", "greater_is_better": False, "top_k": 2}
    verdict = soft_vote(rows, outcomes, splits, score, **kwargs)
    assert verdict is not None and verdict.chosen and verdict.gain == pytest.approx(1.0)
    # Two identical members: no gain, never chosen.
    same = {"a": outcomes["a"], "b": _outcome([1.0, 1.0, 1.0], high)}
    assert not soft_vote(rows, same, splits, score, **kwargs).chosen
    assert soft_vote(rows[:1], outcomes, splits, score, **kwargs) is None


def test_three_class_boosting_and_its_soft_vote_give_per_class_probabilities():
    from aurora_pipelines.training.algorithms import (
        build_pipeline,
        get_algorithm,
        select_feature_columns,
    )
    from aurora_pipelines.training.leaderboard import EnsembleVerdict
    from aurora_pipelines.training.trainer import _ensemble

    rng = np.random.default_rng(3)
    X = rng.normal(size=(450, 4))
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame["label"] = np.array(["low", "mid", "high"])[
        np.digitize(X[:, 0] + 0.5 * X[:, 1], [-0.5, 0.5])
    ]
    options = {"target": "label", "id_column": None, "time_column": None}
    result = train_model(
        frame,
        algorithms=["xgboost", "lightgbm"],
        primary_metric="log_loss",
        ensemble_top_k=2,
        **options,
    )
    proba = result.model.predict_proba(frame)
    assert proba.shape == (450, 3) and np.allclose(proba.sum(axis=1), 1.0)
    classes = np.asarray(result.model.classes_)
    assert list(classes) == ["high", "low", "mid"]
    assert (result.model.predict(frame) == classes[proba.argmax(axis=1)]).all()
    assert any(row["role"] == "ensemble" for row in result.leaderboard)

    names = ["xgboost", "lightgbm"]
    specs = [get_algorithm(n, "classification") for n in names]
    features = select_feature_columns(frame, target="label")
    bases = {s.name: build_pipeline(s, "classification", features, 1) for s in specs}
    outcomes = {n: SearchOutcome(params={}, scores={}, oof=np.empty(0), trials=[]) for n in names}
    verdict = EnsembleVerdict(names, {}, np.empty(0), 0.1, 0.0, chosen=True)
    vote = _ensemble(verdict, bases, outcomes, specs, "classification", features, 1)
    vote.fit(frame[features.all], frame["label"])
    assert vote.predict_proba(frame.head(5)).shape == (5, 3)
    assert set(vote.predict(frame)) <= {"low", "mid", "high"}
    assert skops_trusted_types(vote)  # the soft vote stores with skops too
