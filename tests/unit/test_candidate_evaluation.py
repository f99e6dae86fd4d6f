"""Champion comparison: a candidate is better only when the interval of its improvement over
the champion, on the same labelled rows, clears the spec's minimum effect (defect 5: a plain
`improvement > 0` let noise win)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from aurora_pipelines.monitoring.candidate_evaluation import (
    bootstrap_interval,
    delong_interval,
    evaluate_candidate,
)
from aurora_pipelines.registry.model_version import ModelVersion
from aurora_pipelines.specs import MonitoringSpec

ROWS = 2000


def _rows(seed: int, rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    frame = pd.DataFrame({"x": x, "z1": rng.normal(size=rows), "z2": rng.normal(size=rows)})
    frame["y"] = (rng.random(rows) < 1 / (1 + np.exp(-2 * x))).astype(int)
    return frame


def _version(version: str, columns: list[str], train: pd.DataFrame, metric: str) -> ModelVersion:
    model = LogisticRegression().fit(train[columns], train["y"])
    return ModelVersion(
        name="m",
        version=version,
        model=model,
        input_columns=tuple(columns),
        problem_type="classification",
        primary_metric=metric,
        greater_is_better=metric != "log_loss",
        classes=(0, 1),
    )


def _evaluate(champion, candidate, labelled, min_improvement=0.0):
    return evaluate_candidate(
        champion, candidate, labelled, target="y", min_improvement=min_improvement, data="test"
    )


def test_a_candidate_better_by_noise_only_is_not_called_better():
    # Same information (x), different noise (z1 vs z2), trained on different samples.
    champion = _version("1", ["x", "z2"], _rows(2, 300), "roc_auc")
    candidate = _version("2", ["x", "z1"], _rows(1, 300), "roc_auc")
    result = _evaluate(champion, candidate, _rows(3))
    assert result.improvement > 0  # what `improvement > 0` called better
    assert result.ci_low < 0 < result.ci_high
    assert result.method == "delong" and result.candidate_better is False
    assert "not better" in result.markdown()


def test_a_clearly_better_candidate_is_called_better_with_its_interval():
    champion = _version("1", ["z1"], _rows(1), "roc_auc")  # learned nothing
    candidate = _version("2", ["x"], _rows(2), "roc_auc")
    result = _evaluate(champion, candidate, _rows(3))
    assert result.candidate_value - result.champion_value > 0.2
    assert 0 < result.ci_low < result.improvement < result.ci_high
    assert result.candidate_better is True
    assert _evaluate(champion, candidate, _rows(3), min_improvement=0.6).candidate_better is False


def test_lower_is_better_metrics_are_compared_by_their_direction_with_a_bootstrap():
    champion = _version("1", ["z1"], _rows(1), "log_loss")
    candidate = _version("2", ["x"], _rows(2), "log_loss")
    result = _evaluate(champion, candidate, _rows(3, 600))
    assert result.candidate_value < result.champion_value
    assert result.improvement == pytest.approx(
        result.champion_value - result.candidate_value, abs=1e-5
    )
    assert result.method == "paired_bootstrap" and result.resamples > 0
    assert result.ci_low > 0 and result.candidate_better is True
    worse = _evaluate(candidate, champion, _rows(3, 600))
    assert worse.ci_high < 0 and worse.candidate_better is False


def test_delong_interval_agrees_with_a_paired_bootstrap_of_the_auc():
    from sklearn.metrics import roc_auc_score

    frame = _rows(4, 800)
    y = frame["y"].to_numpy()
    a = 1 / (1 + np.exp(-(frame["x"] + frame["z1"]).to_numpy()))
    b = 1 / (1 + np.exp(-(frame["x"] + frame["z2"]).to_numpy()))
    delong = delong_interval(y, a, b)
    boot = bootstrap_interval(
        lambda r: roc_auc_score(y[r], b[r]) - roc_auc_score(y[r], a[r]), len(y), 400, 0, 0.95
    )
    assert delong.improvement == pytest.approx(roc_auc_score(y, b) - roc_auc_score(y, a))
    width = delong.high - delong.low
    assert abs(delong.low - boot.low) < 0.15 * width
    assert abs(delong.high - boot.high) < 0.15 * width


def test_the_minimum_effect_is_a_spec_field_defaulting_to_zero():
    assert MonitoringSpec().min_improvement == 0.0
    assert MonitoringSpec(min_improvement=0.01).min_improvement == 0.01
