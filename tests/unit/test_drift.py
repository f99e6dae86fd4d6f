"""Drift on the live path's pandas side (reference bins, counts, window statistics, Evidently
on samples) and the PSI definitions the binned statistics reproduce."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from aurora_pipelines.monitoring import population_stability_index, psi_table
from aurora_pipelines.monitoring.binning import count_pandas
from aurora_pipelines.monitoring.psi import MISSING, UNSEEN, numeric_edges
from aurora_pipelines.monitoring.reference import build_reference_pandas
from aurora_pipelines.monitoring.window import evidently_on_samples, window_drift
from aurora_pipelines.sources.sample_data import generate_credit_data
from aurora_pipelines.specs import MonitoringSpec

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
def profile(reference):
    return build_reference_pandas(reference, FEATURES)


@pytest.fixture(scope="module")
def drifted(profile):
    current = generate_credit_data(ROWS, seed=3, drift=True)
    return window_drift(
        profile, count_pandas(current, profile.features), MonitoringSpec(), window="d"
    )


def test_evidently_html_report_is_written_from_samples(reference, profile, tmp_path):
    kept = [f.column for f in profile.features]
    report = tmp_path / "monitor" / "drift.html"
    share = evidently_on_samples(
        reference[kept],
        generate_credit_data(ROWS, seed=3, drift=True)[kept],
        profile,
        MonitoringSpec(),
        report,
    )
    assert 0 < share <= 1
    assert report.stat().st_size > 10_000
    assert "<html" in report.read_text()[:5000].lower()


def test_window_serialises_for_the_delta_time_series(drifted):
    frame = drifted.to_frame()
    assert len(frame) == len(drifted.features)
    assert list(frame.columns[:3]) == ["column", "kind", "psi"]
    assert frame["drifted"].dtype == bool
    assert set(frame["window"]) == {"d"}
    json.dumps(drifted.summary())


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


def test_evidently_share_counts_every_column_when_widgets_are_for_drifted_only(
    reference, profile, drifted, tmp_path
):
    kept = [f.column for f in profile.features]
    current = generate_credit_data(ROWS, seed=3, drift=True)[kept]
    full = evidently_on_samples(reference[kept], current, profile, MonitoringSpec(), None)
    light = tmp_path / "light.html"
    share = evidently_on_samples(
        reference[kept],
        current,
        profile,
        MonitoringSpec(),
        light,
        detail_columns=drifted.drifted_columns[:1],
    )
    assert drifted.drifted_columns
    assert share == pytest.approx(full)
    assert "<html" in light.read_text()[:5000].lower()
