"""The retraining policy: thresholds, de-duplication, cooldown and the minimum-new-data rule."""

from __future__ import annotations

from aurora_pipelines.monitoring.retrain_policy import (
    REQUESTED,
    SKIPPED,
    RetrainState,
    decide,
    drift_signal,
    performance_signal,
)
from aurora_pipelines.specs import MonitoringSpec

SPEC = MonitoringSpec(
    drift_share_max=0.3, performance_tolerance=0.05, retrain_cooldown_hours=24, min_new_rows=1000
)
NOW = 1_800_000_000.0
DRIFTED = drift_signal("2026-11-20", 0.45, 5000, SPEC)
STABLE = drift_signal("2026-11-20", 0.1, 5000, SPEC)


def test_drift_above_threshold_requests_retraining_with_the_reason():
    decision = decide([DRIFTED], RetrainState(), SPEC, now=NOW)
    assert decision.request and decision.event == REQUESTED
    assert "drift share 0.450 > 0.3" in decision.reason and "2026-11-20" in decision.reason
    assert decision.details["new_rows"] == 5000


def test_performance_drop_alone_requests_retraining():
    dropped = performance_signal("2026-11-20", "roc_auc", 0.08, 2000, SPEC)
    decision = decide([STABLE, dropped], RetrainState(), SPEC, now=NOW)
    assert decision.request
    assert "roc_auc dropped 0.080" in decision.reason and "drift" not in decision.reason


def test_within_thresholds_is_a_skip_with_the_values():
    small_drop = performance_signal("2026-11-20", "roc_auc", 0.01, 2000, SPEC)
    decision = decide([STABLE, small_drop], RetrainState(), SPEC, now=NOW)
    assert not decision.request and decision.event == SKIPPED
    assert decision.reason.startswith("within thresholds")


def test_an_open_retraining_run_deduplicates():
    decision = decide([DRIFTED], RetrainState(open_run_id="abc"), SPEC, now=NOW)
    assert not decision.request and "abc is still open" in decision.reason


def test_a_candidate_awaiting_approval_deduplicates():
    decision = decide([DRIFTED], RetrainState(pending_candidate="3"), SPEC, now=NOW)
    assert not decision.request and "v3 still awaits its approvals" in decision.reason


def test_cooldown_skips_until_it_has_passed():
    recent = RetrainState(last_request_at=NOW - 3600)
    decision = decide([DRIFTED], recent, SPEC, now=NOW)
    assert not decision.request and decision.reason.startswith("cooldown")
    assert "23.0 h left" in decision.reason
    assert decide([DRIFTED], RetrainState(last_request_at=NOW - 25 * 3600), SPEC, now=NOW).request


def test_too_few_new_rows_skips():
    small = drift_signal("2026-11-20", 0.9, 400, SPEC)
    decision = decide([small], RetrainState(), SPEC, now=NOW)
    assert not decision.request
    assert decision.reason == "not enough new data: 400 rows in the window (< 1000)"
