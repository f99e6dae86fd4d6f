"""Drift between batches: Evidently's per-column tests, our PSI, and the dataset verdict."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from aurora_pipelines.errors import DataError
from aurora_pipelines.monitoring import compute_drift, population_stability_index, psi_table
from aurora_pipelines.monitoring.psi import MISSING, UNSEEN, numeric_edges
from aurora_pipelines.sources.sample_data import generate_credit_data

ROWS = 3000
# The caller picks the features: no id, no target (an increasing id always "drifts").
FEATURES = [
    c
    for c in generate_credit_data(10, seed=0).columns
    if c not in ("application_id", "default_flag")
]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return generate_credit_data(ROWS, seed=1)


@pytest.fixture(scope="module")
def stable(reference):
    return compute_drift(reference, generate_credit_data(ROWS, seed=2), columns=FEATURES)


@pytest.fixture(scope="module")
def drifted(reference, tmp_path_factory):
    report = tmp_path_factory.mktemp("drift") / "monitor" / "drift.html"
    return compute_drift(
        reference,
        generate_credit_data(ROWS, seed=3, drift=True),
        columns=FEATURES,
        report_path=report,
    )


def test_same_population_has_low_drift_share(stable):
    assert stable.drift_share <= 0.1
    assert stable.dataset_drift is False
    assert max(f.psi for f in stable.features) < 0.1


def test_shifted_population_is_dataset_drift_with_credit_features_drifted(drifted):
    assert drifted.dataset_drift is True
    assert drifted.drift_share > drifted.drift_share_max
    for column in ("credit_score", "interest_rate"):
        feature = drifted.feature(column)
        assert feature.drifted and feature.test_drifted and feature.psi_drifted
        assert feature.psi > 0.2
    # Unshifted features stay quiet.
    assert not drifted.feature("region").drifted
    assert not drifted.feature("has_cosigner").drifted


def test_evidently_html_report_is_written(drifted):
    assert drifted.report_path is not None and drifted.report_path.exists()
    assert drifted.report_path.stat().st_size > 10_000
    assert "<html" in drifted.report_path.read_text()[:5000].lower()


def test_date_columns_are_skipped_not_tested(drifted):
    assert set(drifted.skipped) == {"application_date", "last_delinquency_date"}
    assert {f.column for f in drifted.features} == set(FEATURES) - set(drifted.skipped)


def test_result_serialises_for_the_delta_time_series(drifted):
    frame = drifted.to_frame()
    assert len(frame) == len(drifted.features)
    assert list(frame.columns[:3]) == ["column", "kind", "psi"]
    assert frame["drifted"].dtype == bool
    payload = drifted.to_dict()
    json.dumps(payload)
    assert payload["report_path"].endswith("drift.html")


def test_small_batches_report_p_values(reference):
    # Evidently uses p-value tests up to 1000 rows, distances above.
    result = compute_drift(
        reference.head(500),
        generate_credit_data(500, seed=5, drift=True),
        columns=["credit_score", "region"],
    )
    credit = result.feature("credit_score")
    assert credit.test == "K-S p_value" and credit.p_value is not None and credit.p_value < 0.05
    assert result.feature("region").test == "chi-square p_value"


def test_unknown_columns_are_a_data_error_naming_them(reference):
    with pytest.raises(DataError, match="current: churn"):
        compute_drift(
            reference, reference.drop(columns=["region"]).assign(x=1), columns=["age", "churn"]
        )


def test_psi_matches_a_hand_computed_numeric_case():
    # Two bins split at the reference median 2.5; reference 50/50, current 75/25:
    # (0.75 - 0.5) ln(0.75/0.5) + (0.25 - 0.5) ln(0.25/0.5) = 0.25 ln 3
    reference = pd.Series([1, 2, 3, 4] * 25)
    current = pd.Series([1, 1, 1, 4] * 25)
    assert population_stability_index(reference, current, bins=2) == pytest.approx(
        0.25 * math.log(3)
    )
    assert population_stability_index(reference, reference, bins=10) == 0.0


def test_psi_puts_unseen_categories_in_their_own_bucket_with_epsilon():
    reference = pd.Series(["a", "a", "b", "b"])
    current = pd.Series(["a", "b", "c", "c"])
    eps = 1e-4
    expected = 2 * (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.5 - eps) * math.log(0.5 / eps)
    assert population_stability_index(reference, current, epsilon=eps) == pytest.approx(expected)
    table = psi_table(reference, current, epsilon=eps)
    assert table.set_index("bucket").at[UNSEEN, "current_count"] == 2


def test_psi_outer_bins_are_open_ended():
    reference = pd.Series(np.linspace(0, 1, 1000))
    current = pd.Series([5.0] * 100 + [-5.0] * 100)
    table = psi_table(reference, current)
    assert table["current_count"].sum() == len(current)  # nothing falls outside a bucket
    assert population_stability_index(reference, current) > 1


def test_psi_deduplicates_edges_of_a_spiky_reference():
    reference = pd.Series([0.0] * 900 + list(np.linspace(1, 10, 100)))
    edges = numeric_edges(reference, bins=10)
    assert len(edges) == len(set(edges)) < 9
    assert population_stability_index(reference, reference.sample(frac=1, random_state=0)) < 1e-9


def test_psi_counts_a_change_in_missing_rate():
    reference = pd.Series([1.0, 2.0, 3.0, 4.0] * 25)
    current = reference.copy()
    current[:50] = np.nan
    table = psi_table(reference, current).set_index("bucket")
    assert table.at[MISSING, "current_share"] == 0.5
    assert population_stability_index(reference, current) > 0.2
