"""Tuning, time splits, holdout, calibration and threshold: what the trainer promises."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV

from aurora_pipelines.errors import SpecError
from aurora_pipelines.sources.sample_data import (
    generate_credit_data,
)
from aurora_pipelines.training.algorithms import ALGORITHMS
from aurora_pipelines.training.decision import decide_calibration, select_threshold
from aurora_pipelines.training.hpo import HpoConfig, default_params, tune
from aurora_pipelines.training.validation import cv_splits, holdout_split
from tests.factories import train_model


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return generate_credit_data(1500, seed=5)


# Two algorithms, a hold-out and this file's seed; a test's keywords override them.
_train = functools.partial(
    train_model,
    algorithms=["logistic_regression", "hist_gradient_boosting"],
    seed=13,
    holdout_fraction=0.2,
)


def _hpo(tmp_path, name: str, trials: int = 3) -> HpoConfig:
    # A generous timeout: the trial budget, not the clock, ends the search (determinism).
    return HpoConfig(
        n_trials=trials,
        timeout_seconds=600,
        storage=f"sqlite:///{tmp_path / name}",
        study_prefix="t",
    )


@pytest.fixture(scope="module")
def tuned(credit, tmp_path_factory):
    home = tmp_path_factory.mktemp("optuna")
    return home, _train(credit, hpo=_hpo(home, "a.db"))


def test_same_seed_data_and_spec_give_the_same_metrics(credit, tuned, tmp_path):
    _, first = tuned
    second = _train(credit, hpo=_hpo(tmp_path, "b.db"))  # a fresh study database
    assert second.metrics == first.metrics
    assert second.holdout_metrics == first.holdout_metrics
    assert second.best_params == first.best_params
    assert [(t.algorithm, t.params, t.value) for t in second.trials] == [
        (t.algorithm, t.params, t.value) for t in first.trials
    ]
    np.testing.assert_array_equal(
        second.model.predict_proba(credit.head(100)), first.model.predict_proba(credit.head(100))
    )


def test_each_algorithm_is_tuned_within_the_trial_budget_starting_from_its_defaults(tuned):
    _, result = tuned
    for name in ("logistic_regression", "hist_gradient_boosting"):
        trials = [t for t in result.trials if t.algorithm == name]
        assert [t.number for t in trials] == [0, 1, 2]
        assert trials[0].params == default_params(ALGORITHMS[name].search_space)
        complete = [t for t in trials if t.state == "COMPLETE"]
        assert all(len(t.folds["roc_auc"]) == 3 for t in complete)
    scored = [
        t for t in result.trials if t.algorithm == result.best_algorithm and t.value is not None
    ]
    best = max(scored, key=lambda t: t.value)
    defaults = next(t for t in scored if t.number == 0)
    # A tuned configuration is kept only when it beats the defaults (trial 0) by more than the
    # CV noise; otherwise the defaults are.
    assert result.best_params in (best.params, defaults.params)
    chosen = best if result.best_params == best.params else defaults
    assert result.metrics["roc_auc"] == pytest.approx(chosen.value)


def test_a_finished_study_resumes_without_new_trials(credit, tuned):
    home, first = tuned
    again = _train(credit, hpo=_hpo(home, "a.db"))  # same database, same inputs
    assert len(again.trials) == len(first.trials)
    assert again.metrics == first.metrics
    # More budget continues the same study instead of starting over.
    more = _train(credit, hpo=_hpo(home, "a.db", trials=4))
    numbers = sorted(t.number for t in more.trials if t.algorithm == "logistic_regression")
    assert numbers == [0, 1, 2, 3]


def test_median_pruner_stops_trials_worse_than_earlier_ones_at_the_same_fold():
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0, "default": 0.9}}
    folds_run: list[int] = []

    def evaluate(params, report):
        scores = []
        for step in range(5):
            scores.append(params["x"])
            folds_run.append(step)
            if report:
                report(step, float(np.mean(scores)))
        return {"m": scores}, np.zeros((1, 1))

    outcome = tune(
        "toy",
        space,
        evaluate,
        primary="m",
        greater_is_better=True,
        config=HpoConfig(n_trials=12, timeout_seconds=None),
        seed=0,
        study_key="k",
        timeout_seconds=None,
    )
    pruned = [t for t in outcome.trials if t.state == "PRUNED"]
    assert pruned, "no trial was pruned"
    assert all(len(t.intermediate) < 5 for t in pruned)
    assert all(t.params["x"] < 0.9 for t in pruned)
    assert outcome.params["x"] >= 0.9


def test_time_validation_trains_on_the_past_and_holds_out_the_latest_rows(credit):
    y = np.tile([0, 1], 500)
    train, holdout = holdout_split(
        y, fraction=0.2, validation="time", problem_type="classification", seed=1
    )
    assert list(holdout) == list(range(800, 1000)) and list(train) == list(range(800))
    for fit_rows, test_rows in cv_splits("classification", "time", 4, 1, y[train]):
        assert fit_rows.max() < test_rows.min()

    result = _train(credit, validation="time")
    assert result.validation == "time"
    assert result.n_train_rows == 1200 and result.n_holdout_rows == 300
    assert result.evaluation.source == "holdout"


def test_time_validation_without_a_time_column_is_a_spec_error(credit):
    with pytest.raises(SpecError, match="time-based validation needs a time column"):
        _train(credit, validation="time", time_column=None)


def test_holdout_metrics_threshold_and_importance_come_with_the_result(credit):
    result = _train(credit, algorithms=["logistic_regression"])
    assert set(result.holdout_metrics) >= {"roc_auc", "f1_at_threshold", "recall_at_threshold"}
    assert 0 < result.decision_threshold < 1 and result.threshold_metric == "f1"
    # Imbalanced data: the F1-optimal cut-off sits well below 0.5.
    assert result.decision_threshold < 0.5
    assert list(result.feature_importance)[0] in {"credit_score", "num_late_payments_12m"}
    by_accuracy = _train(credit, algorithms=["logistic_regression"], primary_metric="accuracy")
    assert by_accuracy.threshold_metric == "accuracy"
    pinned = _train(credit, algorithms=["logistic_regression"], threshold=0.3)
    assert (pinned.decision_threshold, pinned.threshold_metric) == (0.3, "spec")


def test_calibration_wraps_the_chosen_pipeline_and_is_reported(credit):
    result = _train(credit, algorithms=["logistic_regression"], calibration="sigmoid")
    assert isinstance(result.model, CalibratedClassifierCV)
    assert result.calibration == "sigmoid" and result.params["calibration"] == "sigmoid"
    assert result.model.predict_proba(credit.head(3)).shape == (3, 2)


def test_auto_calibration_fixes_squashed_probabilities_and_leaves_good_ones():
    rng = np.random.default_rng(0)
    true_p = rng.uniform(0.02, 0.98, 4000)
    y = (rng.uniform(size=4000) < true_p).astype(int)
    good = np.column_stack([1 - true_p, true_p])
    squashed_p = 0.5 + 0.15 * (true_p - 0.5)
    squashed = np.column_stack([1 - squashed_p, squashed_p])
    classes = np.array([0, 1])
    assert decide_calibration("auto", squashed, y, classes, seed=0) == "sigmoid"
    assert decide_calibration("auto", good, y, classes, seed=0) == "none"
    assert decide_calibration("auto", squashed, y, None, seed=0) == "none"  # regression


def test_threshold_maximises_f1_on_crafted_scores():
    y = np.array([0] * 80 + [1] * 20)
    scores = np.concatenate([np.linspace(0.0, 0.3, 80), np.linspace(0.25, 0.6, 20)])
    threshold, metric = select_threshold(y, scores, "roc_auc")
    predicted = scores >= threshold
    assert metric == "f1"
    assert 0.25 <= threshold <= 0.31
    assert predicted[y == 1].mean() >= 0.85
