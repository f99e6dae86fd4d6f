"""Sampling methods, the sample-size rule, and the profile's table-level EDA and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aurora_pipelines.errors import DataError
from aurora_pipelines.profiling import SemanticType, profile_table
from aurora_pipelines.profiling.sampling import sample_size, sample_to_pandas
from aurora_pipelines.specs import ProfilingSpec, SamplingSpec

ROWS = 4000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    label = (rng.random(ROWS) < 0.05).astype("int64")  # a rare positive class (~5%)
    x = rng.normal(0, 1, ROWS) + label
    return pd.DataFrame(
        {
            "row_id": np.arange(ROWS),
            "x": x,
            "y_rank": np.exp(x),  # monotone in x: Spearman 1, Pearson lower
            "colour": rng.choice(["red", "green", "blue"], ROWS),
            "shade": None,
            "label": label,
        }
    ).assign(shade=lambda f: f["colour"].map({"red": "dark", "green": "light", "blue": "mid"}))


@pytest.fixture(scope="module")
def df(spark, frame):
    return spark.createDataFrame(frame).repartition(3)


def test_sample_size_rule_follows_cochran_with_finite_population_correction():
    assert sample_size(10**9, 0.01, 0.99) == 16587  # 2.5758^2 * 0.25 / 0.0001
    assert sample_size(10**9, 0.05, 0.95) == 385
    assert sample_size(1000, 0.01, 0.99) < 1000  # never more than the table


def test_without_a_size_the_rule_picks_it_and_says_why(df):
    plan = SamplingSpec(margin_of_error=0.05, confidence=0.95)
    sample, info = sample_to_pandas(df, table_rows=ROWS, plan=plan, seed=1)
    assert info.requested_rows == sample_size(ROWS, 0.05, 0.95) == 351
    assert "Cochran" in info.reason and info.size_rule["confidence"] == 0.95
    assert abs(len(sample) - 351) < 80  # Bernoulli: about n


def test_random_sample_of_n_rows_is_exact_and_reproducible(df):
    plan = SamplingSpec(rows=500)
    first, info = sample_to_pandas(df, table_rows=ROWS, plan=plan, seed=3)
    again, _ = sample_to_pandas(df, table_rows=ROWS, plan=plan, seed=3)
    other, _ = sample_to_pandas(df, table_rows=ROWS, plan=plan, seed=4)
    assert len(first) == info.rows == 500 and info.method == "random"
    assert sorted(first["row_id"]) == sorted(again["row_id"])
    assert sorted(first["row_id"]) != sorted(other["row_id"])


def test_stratified_sample_keeps_proportions_and_a_minimum_per_stratum(df, frame):
    plan = SamplingSpec(method="stratified", fraction=0.25, min_per_stratum=120)
    sample, info = sample_to_pandas(df, table_rows=ROWS, plan=plan, seed=2, target="label")
    positives = int(frame["label"].sum())
    assert info.stratify_by == "label" and info.strata["1"]["table_rows"] == positives
    # The rare class (~200 rows) would get ~50 at 25%: it is raised to >= ~120.
    assert info.strata["1"]["sample_rows"] >= 100 and "raised to at least 120" in info.reason
    negatives = info.strata["0"]["sample_rows"] / info.strata["0"]["table_rows"]
    assert negatives == pytest.approx(0.25, abs=0.03)


def test_stratified_by_a_named_column(df):
    plan = SamplingSpec(method="stratified", fraction=0.5, stratify_by="colour")
    _, info = sample_to_pandas(df, table_rows=ROWS, plan=plan, seed=2, target="label")
    assert set(info.strata) == {"red", "green", "blue"}
    for stratum in info.strata.values():
        assert stratum["sample_rows"] / stratum["table_rows"] == pytest.approx(0.5, abs=0.06)


def test_systematic_sample_takes_every_kth_row_in_key_order(df):
    plan = SamplingSpec(method="systematic", rows=400, order_by="row_id")
    sample, info = sample_to_pandas(df, table_rows=ROWS, plan=plan, seed=9)
    ids = sorted(sample["row_id"])
    assert info.step == 10 and len(ids) == 400
    assert ids == list(range(info.start, ROWS, 10))


def test_systematic_without_an_ordering_column_is_a_data_error(df):
    with pytest.raises(DataError, match="order_by"):
        sample_to_pandas(df, table_rows=ROWS, plan=SamplingSpec(method="systematic"), seed=1)


def test_profile_records_the_sampling_plan_from_the_spec(df):
    spec = ProfilingSpec(sampling=SamplingSpec(method="stratified", rows=1000))
    profile = profile_table(df, target="label", sampling=spec.sampling_plan, seed=4)
    assert profile.sampling.method == "stratified" and profile.sampling.stratify_by == "label"
    assert ProfilingSpec(sample_rows=123).sampling_plan.rows == 123


@pytest.fixture(scope="module")
def eda(df):
    return profile_table(df, target="label", id_column="row_id", sample_rows=3000, seed=1)


def test_profile_has_skew_histograms_and_rank_correlations(eda, frame):
    y = eda.column("y_rank")
    assert y.skew == pytest.approx(frame["y_rank"].skew(), rel=0.25)  # from the sample
    assert abs(eda.column("x").skew) < 0.5 < y.skew
    assert sum(y.histogram["counts"]) + y.histogram["below"] + y.histogram["above"] == 3000
    assert eda.spearman["x"]["y_rank"] == pytest.approx(1.0, abs=1e-6)
    assert eda.correlations["x"]["y_rank"] < 0.9


def test_cramers_v_matrix_finds_a_determined_pair(eda):
    assert eda.cramers_v["colour"]["shade"] == pytest.approx(1.0, abs=0.01)
    assert eda.column("colour").categories == ["blue", "green", "red"]


def test_a_leaky_feature_is_flagged(spark, frame):
    leaky = frame.assign(outcome_code=frame["label"] * 10 + 1)
    profile = profile_table(spark.createDataFrame(leaky), target="label", sample_rows=2000)
    assert [h["column"] for h in profile.leakage_hints] == ["outcome_code"]
    assert "predicts the target almost perfectly" in profile.leakage_hints[0]["message"]


def test_unsupported_and_all_null_columns_are_warnings_not_errors(spark):
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("n", T.IntegerType()),
            T.StructField("tags", T.ArrayType(T.StringType())),
            T.StructField("attrs", T.MapType(T.StringType(), T.IntegerType())),
            T.StructField("blob", T.BinaryType()),
            T.StructField("empty", T.StringType()),
        ]
    )
    rows = [(i, ["a"], {"k": i}, bytes([i % 256]), None) for i in range(300)]
    profile = profile_table(spark.createDataFrame(rows, schema), sample_rows=100)
    text = " ".join(profile.warnings)
    for name in ("tags", "attrs", "blob"):
        assert f"column '{name}'" in text and profile.column(name).semantic_type.value == "other"
    assert "column 'empty' is entirely null" in text
    assert profile.column("blob").non_null == 300


def test_high_cardinality_strings_are_not_categories(spark):
    frame = pd.DataFrame({"code": [f"C{i:06d}" for i in range(3000)], "v": range(3000)})
    profile = profile_table(spark.createDataFrame(frame), sample_rows=1000)
    assert profile.column("code").semantic_type is SemanticType.identifier
    assert any("'code' has ~" in w and "not as a category" in w for w in profile.warnings)


def test_empty_table_is_a_data_error(spark, frame):
    with pytest.raises(DataError, match="empty table"):
        profile_table(spark.createDataFrame(frame).limit(0), target="label")
