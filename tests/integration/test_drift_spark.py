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


def test_a_local_delta_reference_is_binned_in_process_like_spark_bins_it(spark, tmp_path):
    """load_or_build_reference on a small local Delta table: the in-process (pandas) bins
    have the kinds, categories and drift calls of the Spark bins, decimals stay numeric."""
    from decimal import Decimal

    import pyarrow as pa
    from deltalake import write_deltalake

    from aurora_pipelines.lake import delta
    from aurora_pipelines.monitoring.reference import local_table_rows
    from aurora_pipelines.monitoring.run_window import load_or_build_reference

    reference = generate_credit_data(3000, seed=1)
    current = generate_credit_data(2000, seed=4, drift=True)
    table = pa.Table.from_pandas(reference[FEATURES], preserve_index=False)
    amounts = [Decimal(f"{v:.2f}") for v in reference["interest_rate"]]
    table = table.append_column("rate_decimal", pa.array(amounts, pa.decimal128(9, 2)))
    path = tmp_path / "features"
    write_deltalake(str(path), table)
    columns = [*FEATURES, "rate_decimal"]
    assert local_table_rows(path) == 3000
    assert local_table_rows("s3://bucket/features") is None  # remote: stays on Spark

    frame = delta.read_spark(spark, path)
    local, _ = load_or_build_reference(
        tmp_path / "ref", frame, columns, source="t@0", model_version="1", local_table=path
    )
    on_spark = build_reference_spark(frame, columns)
    assert [(f.column, f.kind) for f in local.features] == [
        (f.column, f.kind) for f in on_spark.features
    ]
    assert local.feature("rate_decimal").kind == "numeric"
    for a, b in zip(local.features, on_spark.features, strict=True):
        if a.kind == "categorical":
            assert a.categories == b.categories and a.counts == b.counts, a.column
    spec = MonitoringSpec()
    current["rate_decimal"] = current["interest_rate"].round(2)
    # pandas counts (equal to Spark's, see the first test): no more Spark jobs than needed.
    a = window_drift(local, count_pandas(current, local.features), spec, window="w")
    b = window_drift(on_spark, count_pandas(current, on_spark.features), spec, window="w")
    assert a.drift_share == pytest.approx(b.drift_share, abs=0.1)
    assert a.drift_share > 0  # the drifted window is called drifted
    for column in ("credit_score", "loan_purpose", "interest_rate", "age"):
        assert a.feature(column).psi == pytest.approx(b.feature(column).psi, abs=0.03), column


def test_a_local_window_counted_in_process_agrees_with_spark(spark, tmp_path):
    """drift_of_window on a small local Delta window: the in-process (Arrow) counts equal
    Spark's, so the statistics and the drifted columns are the same on both paths."""
    from deltalake import write_deltalake

    from aurora_pipelines.lake import delta
    from aurora_pipelines.monitoring.local_binning import build_reference_local
    from aurora_pipelines.monitoring.run_window import drift_of_window, score_reference

    reference = generate_credit_data(3000, seed=1)
    current = generate_credit_data(2000, seed=4, drift=True)
    rng = np.random.default_rng(0)
    reference["score"] = rng.beta(2, 5, len(reference))
    current["score"] = rng.beta(3, 4, len(current))
    current["flag"] = current["credit_score"] > 600  # booleans are categories on both paths
    reference["flag"] = reference["credit_score"] > 650
    columns = [*FEATURES, "flag"]
    write_deltalake(str(tmp_path / "ref"), reference[[*columns, "score"]])
    write_deltalake(str(tmp_path / "cur"), current[[*columns, "score"]])
    profile = build_reference_local(tmp_path / "ref", columns)
    assert profile == build_reference_pandas(reference, columns)  # same bins as pandas
    profile.score = score_reference(delta.read_spark(spark, tmp_path / "ref"))
    window = delta.read_spark(spark, tmp_path / "cur")
    spec = MonitoringSpec()
    local = drift_of_window(window, profile, spec, window_name="w", local_table=tmp_path / "cur")
    on_spark = drift_of_window(window, profile, spec, window_name="w")
    assert local.drifted_columns == on_spark.drifted_columns
    assert local.feature("flag").kind == "categorical" and local.drift_share > 0
    assert local.features == on_spark.features
    assert local.prediction is not None and local.prediction == on_spark.prediction
