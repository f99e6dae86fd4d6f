"""The default bound of train/model is in the metric trained on and relative to the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aurora_pipelines.training.metric_bound import (
    BASELINE,
    QUESTIONNAIRE,
    SPEC,
    derived_bound,
    dummy_baseline,
    resolve_bound,
)
from tests.factories import make_spec, train_model


def _rare_positive_table(signal: float, rows: int = 3000, seed: int = 3) -> pd.DataFrame:
    """About 3% positives; `signal` scales how much x1 tells about the target."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
    # signal 2.5: logit intercept -6 gives ~3% positives; no signal: a flat 3%.
    logit = signal * x1 - 6.0 if signal else np.full(rows, np.log(0.03 / 0.97))
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"id": range(rows), "x1": x1, "x2": x2, "default_flag": y})


def _train(frame: pd.DataFrame, metric: str):
    return train_model(
        frame,
        primary_metric=metric,
        id_column="id",
        time_column=None,
        cv_folds=3,
        algorithms=["logistic_regression"],
    )


def test_a_strong_model_on_a_rare_positive_table_passes_its_default_bound() -> None:
    frame = _rare_positive_table(signal=2.5)
    assert 0.015 < frame["default_flag"].mean() < 0.06
    result = _train(frame, "average_precision")
    score = result.metrics["average_precision"]
    bound = derived_bound(
        "average_precision",
        True,
        frame["default_flag"].to_numpy(),
        "classification",
        result.cv["logistic_regression"]["average_precision"],
    )
    # The old fixed 0.70 would have refused this model (ROC AUC well above 0.9).
    assert result.metrics["roc_auc"] > 0.9 and score < 0.70
    assert bound.meets(score) and bound.source == BASELINE
    assert bound.baseline == pytest.approx(frame["default_flag"].mean())
    assert "prevalence of class 1" in bound.reason and "training.metric_min" in bound.reason


def test_a_model_without_signal_misses_the_default_bound() -> None:
    frame = _rare_positive_table(signal=0.0)
    result = _train(frame, "average_precision")
    bound = derived_bound(
        "average_precision",
        True,
        frame["default_flag"].to_numpy(),
        "classification",
        result.cv["logistic_regression"]["average_precision"],
    )
    assert not bound.meets(result.metrics["average_precision"])


def test_dummy_baselines_are_in_the_metrics_own_units() -> None:
    y = np.array([0] * 97 + [1] * 3)
    assert dummy_baseline(y, "roc_auc", "classification")[0] == 0.5
    assert dummy_baseline(y, "average_precision", "classification")[0] == pytest.approx(0.03)
    assert dummy_baseline(y, "accuracy", "classification")[0] == pytest.approx(0.97)
    target = np.array([1.0, 2.0, 3.0, 4.0])
    assert dummy_baseline(target, "rmse", "regression")[0] == pytest.approx(np.std(target))
    assert dummy_baseline(target, "r2", "regression")[0] == 0.0
    loss = derived_bound("rmse", False, target, "regression", [0.2, 0.25, 0.3])
    assert loss.value < np.std(target) and loss.comparison == "at most"


def test_a_stated_bound_wins_and_says_where_it_came_from() -> None:
    spec = make_spec("bounded", training={"metric_min": 0.4})
    bound = resolve_bound(spec, "average_precision", True, [0, 1], None, metric_pinned=False)
    assert bound.value == 0.4 and bound.source == SPEC
    assert "recommended metric average_precision" in bound.reason
    answered = make_spec(
        "answered",
        training={"primary_metric": "f1", "metric_min": 0.3},
        questionnaire={
            "business_objective": "fewer defaults",
            "decision_supported": "approve loans",
            "positive_class_meaning": "the loan defaults",
            "cost_fn_vs_fp": 5,
            "success_metric": "f1",
            "success_threshold": 0.3,
            "time_horizon_days": 365,
            "output_consumers": "credit officers",
            "decision_automation": "human_review",
            "materiality": "high",
            "personal_data": True,
            "regulatory_use": ["credit_decision"],
        },
    )
    bound = resolve_bound(answered, "f1", True, [0, 1], None, metric_pinned=True)
    assert bound.source == QUESTIONNAIRE and "questionnaire" in bound.reason


def test_a_failed_gate_says_which_bound_applied_and_why() -> None:
    from pathlib import Path

    from aurora_pipelines.training.stage import TrainingOutcome

    bound = derived_bound("average_precision", True, [0] * 97 + [1] * 3, "classification", None)
    outcome = TrainingOutcome(
        registered=None,  # checks() reads only the score and the bound
        candidate=None,
        family="sklearn",
        features_path=Path("."),
        features_version=0,
        primary_metric="average_precision",
        score=0.05,
        score_basis="mean CV",
        greater_is_better=True,
        bound=bound,
    )
    (verdict,) = outcome.checks()
    assert not verdict.passed
    assert "mean CV average_precision 0.0500 is not at least the bound" in verdict.description
    assert "prevalence of class 1" in verdict.description
    assert verdict.metadata["bound_source"] == BASELINE
