"""The count-based drift engine: reference bins, PSI/KS/chi-squared/JS from counts, verdicts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, ks_2samp

from aurora_pipelines.monitoring.binning import count_pandas
from aurora_pipelines.monitoring.psi import population_stability_index
from aurora_pipelines.monitoring.reference import ReferenceProfile, build_reference_pandas
from aurora_pipelines.monitoring.statistics import psi_from_counts
from aurora_pipelines.monitoring.window import window_drift
from aurora_pipelines.sources.sample_data import generate_credit_data
from aurora_pipelines.specs import FeatureThresholds, MonitoringSpec

FEATURES = [
    c
    for c in generate_credit_data(10, seed=0).columns
    if c not in ("application_id", "default_flag")
]


@pytest.fixture(scope="module")
def reference_frame() -> pd.DataFrame:
    return generate_credit_data(4000, seed=1)


@pytest.fixture(scope="module")
def profile(reference_frame) -> ReferenceProfile:
    return build_reference_pandas(reference_frame, FEATURES)


def test_psi_from_counts_matches_a_hand_computed_case():
    # Reference 50/30/20, current 30/30/40 (counts of 100 each):
    # (0.3-0.5)ln(0.3/0.5) + 0 + (0.4-0.2)ln(0.4/0.2) = 0.102165 + 0.138629 = 0.240795
    expected = (0.3 - 0.5) * math.log(0.3 / 0.5) + (0.4 - 0.2) * math.log(0.4 / 0.2)
    assert psi_from_counts(np.array([50, 30, 20]), np.array([30, 30, 40])) == pytest.approx(
        expected, abs=1e-9
    )
    assert expected == pytest.approx(0.240795, abs=1e-6)


def test_reference_bins_give_the_same_psi_as_the_row_level_psi(reference_frame, profile):
    current = generate_credit_data(3000, seed=5, drift=True)
    stats = window_drift(
        profile, count_pandas(current, profile.features), MonitoringSpec(), window="w"
    )
    for column in ("credit_score", "annual_income", "loan_purpose", "employment_years"):
        numeric = profile.feature(column).kind == "numeric"
        row_level = population_stability_index(
            reference_frame[column], current[column], numeric=numeric
        )
        assert stats.feature(column).psi == pytest.approx(row_level, abs=1e-6), column


def test_dates_are_skipped_and_kinds_follow_dtypes(profile):
    assert set(profile.skipped) == {"application_date", "last_delinquency_date"}
    assert profile.feature("credit_score").kind == "numeric"
    assert profile.feature("has_cosigner").kind == "categorical"
    assert profile.feature("has_cosigner").categories == ["false", "true"]


def test_binned_ks_is_close_to_scipy_and_never_above_it(reference_frame, profile):
    current = generate_credit_data(3000, seed=5, drift=True)
    stats = window_drift(
        profile, count_pandas(current, profile.features), MonitoringSpec(), window="w"
    )
    for column in ("credit_score", "interest_rate", "age"):
        exact = ks_2samp(reference_frame[column].dropna(), current[column].dropna())
        ours = stats.feature(column)
        assert ours.test == "ks"
        assert ours.statistic <= exact.statistic + 1e-6
        assert ours.statistic == pytest.approx(exact.statistic, abs=0.02)


def test_chi_squared_uses_scipy_on_the_category_counts(reference_frame, profile):
    current = generate_credit_data(3000, seed=5, drift=True)
    stats = window_drift(
        profile, count_pandas(current, profile.features), MonitoringSpec(), window="w"
    )
    purpose = stats.feature("loan_purpose")
    table = pd.crosstab(
        np.r_[np.zeros(len(reference_frame)), np.ones(len(current))],
        np.r_[reference_frame["loan_purpose"].to_numpy(), current["loan_purpose"].to_numpy()],
    )
    assert purpose.test == "chi2"
    assert purpose.p_value == pytest.approx(chi2_contingency(table.to_numpy()).pvalue, rel=1e-6)
    assert purpose.drifted


def test_same_population_is_ok_and_drifted_population_is_error(profile):
    spec = MonitoringSpec()
    stable = window_drift(
        profile,
        count_pandas(generate_credit_data(3000, seed=2), profile.features),
        spec,
        window="a",
    )
    drifted = window_drift(
        profile,
        count_pandas(generate_credit_data(3000, seed=3, drift=True), profile.features),
        spec,
        window="b",
    )
    assert stable.drift_share <= spec.drift_share_warn and stable.severity == "ok"
    assert drifted.dataset_drift and drifted.severity == "error"
    assert {"credit_score", "loan_purpose", "interest_rate"} <= set(drifted.drifted_columns)
    assert 0 <= drifted.feature("credit_score").js_distance <= 1


def test_per_feature_thresholds_come_from_the_spec(profile):
    spec = MonitoringSpec(features={"credit_score": FeatureThresholds(psi_warn=5, psi_error=9)})
    drifted = window_drift(
        profile,
        count_pandas(generate_credit_data(3000, seed=3, drift=True), profile.features),
        spec,
        window="b",
    )
    score = drifted.feature("credit_score")
    assert (score.psi_warn, score.psi_error, score.severity) == (5, 9, "ok")
    assert drifted.feature("interest_rate").severity == "error"


def test_reference_profile_round_trips_as_json(profile, tmp_path):
    path = profile.save(tmp_path / "ref" / "bins.json")
    assert ReferenceProfile.load(path) == profile
