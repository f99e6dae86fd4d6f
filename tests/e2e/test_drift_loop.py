"""End to end: `aurora demo --drift` closes the loop on real Spark, Delta, dbt and MLflow —
drift detected, retraining requested by the drift sensor's logic, a candidate trained and
compared, approvals pending then given, and only then a new champion."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from aurora_pipelines.settings import REPO_DIR, Settings

EXPERIMENT = "credit_default"


@pytest.fixture(scope="module")
def loop_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # Its own home: the lifecycle e2e test owns credit_default in the session's home.
    home = tmp_path_factory.mktemp("drift_loop")
    return Settings(home=home, experiments_dir=REPO_DIR / "experiments")


@pytest.fixture(scope="module")
def demo(loop_settings: Settings):
    import os

    from aurora_pipelines.commands.demo import run_demo
    from aurora_pipelines.lake.spark import stop_spark

    previous = {k: os.environ.get(k) for k in ("AURORA_HOME", "DAGSTER_HOME")}
    os.environ["AURORA_HOME"] = str(loop_settings.root)
    try:
        yield run_demo(
            loop_settings, rows=5000, batch_rows=2000, console=Console(quiet=True), drift=True
        )
    finally:
        stop_spark()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_drift_is_detected_and_retraining_requested_with_its_reason(demo, loop_settings):
    from aurora_pipelines.governance.store import GovernanceStore

    loop = demo.drift_loop
    assert loop.drift_share > 0.3
    assert "drift share" in loop.retrain_reason
    audit = GovernanceStore.from_settings(loop_settings).read_audit(event="retrain_requested")
    assert audit and audit[-1]["target"] == f"experiment/{EXPERIMENT}"


def test_candidate_is_compared_with_the_champion_on_labelled_data(demo, loop_settings):
    loop = demo.drift_loop
    assert loop.comparison["compared"] is True
    assert loop.comparison["champion_version"] == loop.champion_before
    assert loop.comparison["candidate_version"] == loop.candidate != loop.champion_before
    assert loop.comparison["rows"] == 2000
    assert Path(loop.comparison["report"]).exists()


def test_champion_is_unchanged_until_both_approvals(demo):
    loop = demo.drift_loop
    assert loop.champion_while_pending == loop.champion_before
    assert loop.champion_after_staging == loop.champion_before
    assert loop.champion_after == loop.candidate


def test_every_approval_of_the_candidate_was_given_by_a_demo_identity(demo, loop_settings):
    from aurora_pipelines.governance.store import GovernanceStore

    governance = GovernanceStore.from_settings(loop_settings)
    decided = [
        r
        for r in governance.list_requests(experiment=EXPERIMENT)
        if r.model_version == demo.drift_loop.candidate
    ]
    assert {(r.gate, r.status, r.decided_by) for r in decided} == {
        ("staging", "approved", "validator_bob"),
        ("production", "approved", "mrm_carol"),
    }
    assert governance.verify_audit().ok
