"""Drift on Spark: bucket counts by Spark aggregates equal the pandas counts, never collected."""

from __future__ import annotations

import numpy as np
import pytest

from aurora_pipelines.monitoring.binning import count_pandas, count_spark
from aurora_pipelines.monitoring.reference import build_reference_pandas, build_reference_spark
from aurora_pipelines.monitoring.window import window_drift
from aurora_pipelines.sources.sample_data import generate_credit_data
from aurora_pipelines.specs import MonitoringSpec

FEATURES = [
    c
    for c in generate_credit_data(10, seed=0).columns
    if c not in ("application_id", "default_flag")
]


def test_spark_counts_equal_pandas_counts_on_the_same_bins(spark):
    reference = generate_credit_data(3000, seed=1)
    current = generate_credit_data(2000, seed=4, drift=True)
    profile = build_reference_pandas(reference, FEATURES)
    on_spark = count_spark(spark.createDataFrame(current), profile.features)
    on_pandas = count_pandas(current, profile.features)
    for feature in profile.features:
        a, b = on_spark[feature.column], on_pandas[feature.column]
        assert np.array_equal(a.counts, b.counts), feature.column
        assert (a.missing, a.unseen) == (b.missing, b.unseen), feature.column


def test_spark_reference_agrees_with_the_exact_reference(spark):
    reference = generate_credit_data(3000, seed=1)
    current = generate_credit_data(2000, seed=4, drift=True)
    exact = build_reference_pandas(reference, FEATURES)
    sketched = build_reference_spark(spark.createDataFrame(reference), FEATURES)
    assert [f.column for f in sketched.features] == [f.column for f in exact.features]
    assert sketched.skipped == exact.skipped
    spec = MonitoringSpec()
    a = window_drift(exact, count_pandas(current, exact.features), spec, window="w")
    b = window_drift(
        sketched, count_spark(spark.createDataFrame(current), sketched.features), spec, window="w"
    )
    assert b.drift_share == pytest.approx(a.drift_share, abs=0.1)
    for column in ("credit_score", "loan_purpose", "interest_rate", "age"):
        assert b.feature(column).psi == pytest.approx(a.feature(column).psi, abs=0.03), column
        assert b.feature(column).drifted == a.feature(column).drifted
