"""The model inventory and approval analytics (`aurora governance report`, the daily asset)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from aurora_pipelines.cli import main
from aurora_pipelines.errors import PermissionDenied
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.governance.models import approval_requests
from aurora_pipelines.governance.report import build_report, percentile, write_report
from aurora_pipelines.settings import DEFAULT_POLICY

D1, D2, D3 = "1" * 64, "2" * 64, "3" * 64
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture()
def store(tmp_path: Path) -> GovernanceStore:
    store = GovernanceStore(f"sqlite:///{tmp_path / 'g.db'}", load_policy(DEFAULT_POLICY))
    yield store
    store.dispose()


def _age(store: GovernanceStore, request_id: int, requested: datetime, decided: datetime) -> None:
    """Move a request's timestamps (decisions in a test all happen within a second)."""
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(approval_requests)
            .where(approval_requests.c.id == request_id)
            .values(requested_at=requested, decided_at=decided)
        )


def _history(store: GovernanceStore) -> None:
    """credit_model: v1 validated, approved for production 400 days ago and serving; v2
    rejected, v3 changes requested since. churn_model: v1 pending."""
    for version, digest in (("1", D1), ("2", D2), ("3", D3)):
        store.record_candidate(
            experiment="credit", model_name="credit_model", model_version=version,
            model_digest=digest, primary_metric="roc_auc", mlflow_run_id=f"run{version}",
            created_by="ds_alice",
        )  # fmt: skip
    old = NOW - timedelta(days=400)
    staging = store.request_approval("credit", "staging", "credit_model", 1, D1, "ds_alice")
    store.decide(staging.id, "approve", "validator_bob")
    _age(store, staging.id, old - timedelta(hours=10), old - timedelta(hours=6))  # 4 h
    prod = store.request_approval("credit", "production", "credit_model", 1, D1, "ds_alice")
    store.decide(prod.id, "approve", "mrm_carol")
    _age(store, prod.id, old - timedelta(hours=5), old)  # 5 h
    store.record_deployment(
        experiment="credit", model_name="credit_model", environment="production",
        strategy="blue_green", action="promote", deployed_by="release_manager_dave", champion="1",
    )  # fmt: skip
    rejected = store.request_approval("credit", "staging", "credit_model", 2, D2, "ds_alice")
    store.decide(rejected.id, "reject", "validator_bob", comment="leaks the target")
    _age(store, rejected.id, NOW - timedelta(days=3, hours=20), NOW - timedelta(days=3))  # 20 h
    changes = store.request_approval("credit", "staging", "credit_model", 3, D3, "ds_alice")
    store.decide(changes.id, "request_changes", "validator_bob", comment="calibrate")
    _age(store, changes.id, NOW - timedelta(days=1, hours=2), NOW - timedelta(days=1))  # 2 h
    store.request_approval("churn", "staging", "churn_model", 1, D1, "ds_alice")


def test_inventory_lists_every_model_with_champion_validation_and_findings(store) -> None:
    _history(store)
    report = build_report(store, owners={"credit": "ds_alice"}, now=NOW)
    credit, churn = (next(m for m in report.inventory if m.model_name == n) for n in
                     ("credit_model", "churn_model"))  # fmt: skip
    assert (credit.owner, credit.versions, credit.champion_version) == ("ds_alice", 3, "1")
    assert (credit.last_validation_gate, credit.last_validation_by) == ("production", "mrm_carol")
    assert credit.next_revalidation == NOW - timedelta(days=400) + timedelta(days=365)
    assert credit.revalidation_overdue  # serving, and its yearly revalidation has passed
    assert credit.open_findings == 2  # the rejection and the change request since v1's approval
    assert [m.model_name for m in report.overdue] == ["credit_model"]
    assert (churn.champion_version, churn.pending_requests, churn.revalidation_overdue) == (
        None, 1, False,
    )  # fmt: skip
    assert churn.owner == "ds_alice"  # no spec owner given: who filed its first request


def test_time_to_decision_and_rates_per_gate_and_tier(store) -> None:
    _history(store)
    stats = {(s.gate, s.tier): s for s in build_report(store, now=NOW).decision_stats}
    staging = stats[("staging", "untiered")]
    assert (staging.decided, staging.approved, staging.rejected, staging.changes_requested) == (
        3, 1, 1, 1,
    )  # fmt: skip
    assert staging.median_hours == pytest.approx(4.0)
    assert staging.p90_hours == pytest.approx(percentile([2, 4, 20], 90)) == pytest.approx(16.8)
    assert staging.rejection_rate == pytest.approx(1 / 3)
    assert staging.changes_requested_rate == pytest.approx(1 / 3)
    assert stats[("production", "untiered")].median_hours == pytest.approx(5.0)


def test_tier_of_a_request_splits_the_statistics(store) -> None:
    request = store.request_approval(
        "credit", "staging", "credit_model", 1, D1, "ds_alice", details={"tier": "high"}
    )
    store.decide(request.id, "approve", "validator_bob")
    report = build_report(store, now=NOW)
    assert [(s.gate, s.tier, s.decided) for s in report.decision_stats] == [("staging", "high", 1)]
    assert report.inventory[0].tier == "high"


def test_access_denials_are_counted_per_iso_week(store) -> None:
    request = store.request_approval("credit", "staging", "credit_model", 1, D1, "ds_alice")
    with pytest.raises(PermissionDenied):
        store.decide(request.id, "approve", "ds_alice")  # self-approval: refused and audited
    week = "{}-W{:02d}".format(*datetime.now(UTC).isocalendar()[:2])
    assert build_report(store).denials_per_week == [(week, 1)]


def test_report_files_and_cli_json(store, tmp_path, monkeypatch, capsys) -> None:
    _history(store)
    files = write_report(build_report(store, now=NOW), tmp_path / "out")
    assert "credit_model" in files["html"].read_text() and "overdue" in files["html"].read_text()
    overdue = json.loads(files["json"].read_text())["overdue_revalidations"]
    assert overdue[0]["champion_version"] == "1"
    monkeypatch.setenv("AURORA_GOVERNANCE_URL", store.url)
    monkeypatch.setenv("AURORA_HOME", str(tmp_path / "home"))
    main(["governance", "report", "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert {m["model_name"] for m in printed["inventory"]} == {"credit_model", "churn_model"}
    assert printed["decision_times"][0]["gate"] in ("production", "staging")
    main(["governance", "report"])
    text = capsys.readouterr().out
    assert "Model inventory" in text and "overdue revalidations: credit_model" in text


def test_daily_asset_writes_the_report_and_its_schedule_is_on(tmp_path) -> None:
    import dagster as dg

    from aurora_pipelines.defs.assets.governance_report import (
        REPORT_KEY,
        governance_report_definitions,
    )
    from aurora_pipelines.settings import Settings
    from tests.factories import materialize

    settings = Settings(home=tmp_path / "home")
    store = GovernanceStore(settings.governance_db_url, load_policy(DEFAULT_POLICY))
    _history(store)
    defs = governance_report_definitions(settings.experiments_dir)
    result = materialize(settings, [defs.get_assets_def(REPORT_KEY)], raise_on_error=True)
    metadata = result.asset_materializations_for_node("governance__report")[0].metadata
    assert metadata["models"].value == 2 and metadata["overdue_revalidations"].value == 1
    html = settings.reports_dir / "governance" / "report.html"
    assert metadata["report_html"].value == str(html) and "credit_model" in html.read_text()
    schedule = next(s for s in defs.schedules if s.name == "governance_report_daily")
    assert schedule.cron_schedule == "0 5 * * *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    store.dispose()
