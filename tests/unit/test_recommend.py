"""Recommendation rules on crafted datasets: each rule fires on the data that calls for it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aurora_pipelines.recommend import recommend_for_frame, resolve_plan
from aurora_pipelines.recommend.report import as_markdown, read_json, write_json
from aurora_pipelines.recommend.rules import SINGLE_NODE_MAX_ROWS
from tests.factories import make_spec

# The crafted frames' columns: a target `y`, no id column.
CRAFTED = {"source": {"kind": "csv", "path": "x.csv"}, "target": "y", "id_column": None}


def _frame(n: int, seed: int = 0, positive_share: float = 0.5, noise: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    logit = 2 * x1 * x2 + np.sin(3 * x1) + noise * rng.normal(size=n)  # non-linear signal
    cut = np.quantile(logit, 1 - positive_share)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "x3": rng.normal(size=n),
            "kind": rng.choice(["a", "b", "c"], n),
            "y": (logit > cut).astype(int),
        }
    )


def _by_name(rec):
    return {s.algorithm: s for s in rec.algorithms}


def test_imbalanced_binary_target_gets_pr_auc_and_class_weights():
    rec = recommend_for_frame(_frame(3000, positive_share=0.08), make_spec("crafted", CRAFTED))
    assert rec.primary_metric == "average_precision"
    assert "1:12 imbalance" in rec.metric_reasons[0]
    assert rec.class_weight is True
    # In-process families take class weights; the Spark trainer does not (yet).
    in_process = [s for s in rec.algorithms if s.family != "spark"]
    assert in_process and all(
        any("class imbalance → balanced class weights" in r for r in s.reasons) for s in in_process
    )


def test_balanced_binary_target_gets_roc_auc_stratified_folds_and_no_weights():
    rec = recommend_for_frame(_frame(3000), make_spec("crafted", CRAFTED))
    assert rec.primary_metric == "roc_auc"
    assert rec.class_weight is False
    assert rec.validation == "kfold" and rec.cv_folds == 5
    assert "stratified" in rec.validation_reasons[0]


def test_time_column_switches_to_time_ordered_validation():
    frame = _frame(2000).assign(event_date=pd.date_range("2024-01-01", periods=2000, freq="h"))
    rec = recommend_for_frame(frame, make_spec("crafted", CRAFTED, time_column="event_date"))
    assert rec.validation == "time"
    assert "time column 'event_date'" in rec.validation_reasons[0]
    assert "event_date" not in rec.characteristics.as_dict()["columns_with_missing"]


def test_non_linear_data_ranks_boosting_first_with_a_weak_linear_baseline():
    rec = recommend_for_frame(_frame(5000, noise=0.3), make_spec("crafted", CRAFTED))
    assert rec.algorithms[0].algorithm == "hist_gradient_boosting"
    assert [s.rank for s in rec.algorithms] == list(range(1, len(rec.algorithms) + 1))
    baseline = rec.characteristics.baseline
    assert baseline is not None and baseline.metric == "roc_auc" and baseline.score < 0.75
    assert any("non-linear effects are likely" in r for r in rec.algorithms[0].reasons)


def test_linearly_separable_data_ranks_the_linear_model_first():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=(x @ [3, -2, 1] > 0).astype(int))
    rec = recommend_for_frame(frame, make_spec("crafted", CRAFTED))
    assert rec.algorithms[0].algorithm == "logistic_regression"
    assert any("easiest to explain" in r for r in rec.algorithms[0].reasons)


def test_few_rows_favour_regularised_linear_models_and_more_folds():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    frame["y"] = frame["a"] * 3 + rng.normal(size=300) * 4
    rec = recommend_for_frame(frame, make_spec("crafted", CRAFTED, problem_type="regression"))
    assert rec.algorithms[0].algorithm == "ridge"
    assert rec.cv_folds == 10
    hgb = _by_name(rec)["hist_gradient_boosting"]
    assert any("can overfit 300 rows" in r for r in hgb.reasons)


def test_skewed_regression_target_gets_mae_and_symmetric_gets_rmse():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(2000, 3)), columns=list("abc"))
    skewed = frame.assign(y=np.exp(frame["a"] + rng.normal(size=2000)))
    regression = make_spec("crafted", CRAFTED, problem_type="regression")
    assert recommend_for_frame(skewed, regression).primary_metric == "mae"
    symmetric = frame.assign(y=frame["a"] + rng.normal(size=2000))
    assert recommend_for_frame(symmetric, regression).primary_metric == "rmse"


def test_multiclass_target_gets_log_loss():
    frame = _frame(1500).assign(y=np.random.default_rng(4).choice(["x", "y", "z"], 1500))
    rec = recommend_for_frame(frame, make_spec("crafted", CRAFTED))
    assert rec.primary_metric == "log_loss"
    assert rec.characteristics.target_kind == "multiclass"


def test_missing_values_and_high_cardinality_are_explained():
    frame = _frame(3000)
    frame.loc[frame.index[:600], "x1"] = np.nan
    frame["merchant"] = [f"m{i % 400}" for i in range(3000)]
    rec = recommend_for_frame(frame, make_spec("crafted", CRAFTED))
    chars = rec.characteristics
    assert chars.columns_with_missing["x1"] == pytest.approx(0.2)
    assert chars.high_cardinality == {"merchant": 400}
    hgb, logistic = _by_name(rec)["hist_gradient_boosting"], _by_name(rec)["logistic_regression"]
    assert any("cells are missing: histogram boosting" in r for r in hgb.reasons)
    assert any("'merchant' has 400 levels" in r for r in logistic.reasons)


def test_a_table_beyond_one_node_is_flagged_for_every_single_node_algorithm():
    rec = recommend_for_frame(_frame(2000), make_spec("crafted", CRAFTED), total_rows=12_000_000)
    assert rec.characteristics.rows == 12_000_000 > SINGLE_NODE_MAX_ROWS
    spark = [s for s in rec.algorithms if s.family == "spark"]
    single = [s for s in rec.algorithms if s.family != "spark"]
    assert all(any("exceed one node" in r for r in s.reasons) for s in single)
    if spark:  # Spark MLlib family registered: it ranks first, saying why
        assert rec.algorithms[0].family == "spark"
        assert any("12,000,000 rows" in r and "Spark MLlib" in r for r in rec.algorithms[0].reasons)


def test_every_suggestion_carries_a_search_space_from_the_registry():
    rec = recommend_for_frame(_frame(1000), make_spec("crafted", CRAFTED))
    hgb = _by_name(rec)["hist_gradient_boosting"]
    assert hgb.search_space["learning_rate"] == {
        "type": "float",
        "low": 0.02,
        "high": 0.3,
        "log": True,
        "default": 0.1,
    }
    assert _by_name(rec)["logistic_regression"].search_space["C"]["log"] is True


def test_spec_fields_written_in_the_spec_override_the_recommendation():
    frame = _frame(3000, positive_share=0.08)
    free = make_spec("crafted", CRAFTED, training={"max_algorithms": 2})
    rec = recommend_for_frame(frame, free)
    plan = resolve_plan(free, rec)
    assert plan.primary_metric == "average_precision"
    assert plan.algorithms == [s.algorithm for s in rec.algorithms[:2]]
    # Recommended weights are searched (trial 0 unweighted), never forced.
    assert plan.class_weight == "search"
    assert plan.sources["primary_metric"] == "recommended"

    pinned = make_spec(
        "crafted",
        CRAFTED,
        training={
            "algorithms": ["logistic_regression"],
            "primary_metric": "roc_auc",  # also the default: written, so it wins
            "cv_folds": 3,
            "class_weight": "none",
            "validation": "kfold",
        },
    )
    plan = resolve_plan(pinned, recommend_for_frame(frame, pinned))
    assert plan.algorithms == ["logistic_regression"]
    assert (plan.primary_metric, plan.cv_folds, plan.class_weight) == ("roc_auc", 3, False)
    assert set(plan.sources.values()) == {"spec"}


def test_recommendation_round_trips_through_json_and_renders_markdown(tmp_path):
    rec = recommend_for_frame(_frame(1000), make_spec("crafted", CRAFTED))
    path = write_json(rec, tmp_path / "r" / "recommendations.json", extra={"experiment": "x"})
    assert read_json(path) == rec
    markdown = as_markdown(rec, selected=["random_forest"])
    assert "| 1 | hist_gradient_boosting | sklearn" in markdown
    assert "**Metric:** `roc_auc`" in markdown
