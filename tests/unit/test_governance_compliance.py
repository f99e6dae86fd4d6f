"""Compliance requirements per risk tier, checked before an approval request is filed: the
gate files nothing (and its blocking checks fail) while the version misses one."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aurora_pipelines.deploy.gates import APPROVED_CHECK, COMPLIANCE_CHECK, file_gate_request
from aurora_pipelines.deploy.promotion import Candidate
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.governance.compliance import APPROVAL_BLOCKED, evaluate_compliance
from aurora_pipelines.governance.tiers import assess_tier
from aurora_pipelines.lifecycle import Gate
from aurora_pipelines.settings import DEFAULT_POLICY
from aurora_pipelines.specs import RiskSpec

DIGEST = "ab" * 32
HIGH = RiskSpec(
    materiality="high",
    decision_automation="automated",
    personal_data=True,
    regulatory_use=["credit_decision"],
)
CARD: dict[str, Any] = {
    "model_name": "credit",
    "model_version": "3",
    "model_digest": DIGEST,
    "risk_tier": "high",
    "sections": {
        "intended_use": "Set credit limits automatically.",
        "limitations": ["Not validated for thin-file applicants."],
        "data_sources": [{"name": "features", "location": "/lake/f", "version": "4"}],
        "slices": [{"value": "north", "rows": 300}, {"value": "south", "rows": 280}],
    },
    "sensitive_attribute": "region",
    "disparity_ratio": 0.91,
    "holdout_metrics": {"roc_auc": {"value": 0.81, "low": 0.78, "high": 0.84}},
}


def _card(**changes: Any) -> dict[str, Any]:
    card = copy.deepcopy(CARD)
    for key, value in changes.items():
        if key in card["sections"]:
            card["sections"][key] = value
        else:
            card[key] = value
    return card


def _evaluate(card: dict[str, Any] | None, gate: str = "staging", uat: dict | None = None):
    policy = load_policy(DEFAULT_POLICY)
    return evaluate_compliance(
        policy.requirements("high"),
        tier="high",
        gate=gate,
        experiment="credit",
        model_version="3",
        model_digest=DIGEST,
        card=card,
        uat=uat,
    )


def test_a_complete_card_meets_the_high_tier_at_staging() -> None:
    report = _evaluate(_card())
    assert report.passed, report.reason()
    assert {r.requirement for r in report.results} == {
        "card_section:intended_use",
        "card_section:limitations",
        "card_section:data_sources",
        "card_section:slices",
        "min_disparity_ratio",
        "holdout_cis",
    }


def test_a_card_missing_a_required_section_fails_naming_it_and_the_fix() -> None:
    report = _evaluate(_card(limitations=[]))
    assert not report.passed
    (failure,) = report.failures
    assert failure.requirement == "card_section:limitations"
    assert "`governance.limitations`" in failure.detail
    assert "rematerialize credit/explain/model_card" in failure.detail
    no_slices = _evaluate(_card(slices=[], sensitive_attribute=None, disparity_ratio=None))
    assert [f.requirement for f in no_slices.failures] == [
        "card_section:slices",
        "min_disparity_ratio",
    ]
    assert "declare `governance.sensitive_attribute`" in no_slices.failures[0].detail


def test_a_disparity_ratio_outside_the_tiers_bound_fails() -> None:
    report = _evaluate(_card(disparity_ratio=0.62))
    (failure,) = report.failures
    assert failure.requirement == "min_disparity_ratio"
    assert "disparity ratio 0.620 across 'region' is below the high tier's bound 0.8" in (
        failure.detail
    )
    assert _evaluate(_card(disparity_ratio=0.8)).passed  # the bound itself is within it


def test_missing_cis_a_card_of_another_version_or_no_card_fail() -> None:
    no_ci = _evaluate(_card(holdout_metrics={"roc_auc": {"value": 0.8, "low": None, "high": None}}))
    assert [f.requirement for f in no_ci.failures] == ["holdout_cis"]
    other = _evaluate(_card(model_digest="cd" * 32))
    assert len(other.failures) == len(other.results) == 6
    assert "not version 3" in other.failures[0].detail
    missing = _evaluate(None)
    assert "materialize credit/explain/model_card" in missing.failures[0].detail


def test_production_needs_the_uat_report_of_the_version(tmp_path: Path) -> None:
    report = _evaluate(_card(), gate="production")
    assert [f.requirement for f in report.failures] == ["uat_report"]
    assert "materialize credit/serve/uat_scores" in report.failures[0].detail
    uat = tmp_path / "uat_report.html"
    uat.write_text("<html></html>")
    assert _evaluate(_card(), gate="production", uat={"uat_report": str(uat)}).passed


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[GovernanceStore]:
    s = GovernanceStore(f"sqlite:///{tmp_path / 'governance.db'}", load_policy(DEFAULT_POLICY))
    yield s
    s.dispose()


def _file(store: GovernanceStore, card: dict[str, Any] | None, gate: Gate = Gate.staging):
    return file_gate_request(
        store,
        gate=gate,
        experiment="credit",
        candidate=Candidate("credit", "3", DIGEST),
        tier=assess_tier(store.policy, HIGH),
        card=card,
        evidence={},
        requested_by="ds_alice",
        correlation_id="corr-7",
        run_id="run-7",
    )


def test_the_gate_files_no_request_for_a_version_whose_card_misses_a_section(
    store: GovernanceStore,
) -> None:
    outcome = _file(store, _card(intended_use=""))
    assert outcome.request is None and store.list_requests() == []
    compliance, approved = outcome.checks()
    assert (compliance.name, approved.name) == (COMPLIANCE_CHECK, APPROVED_CHECK)
    assert not compliance.passed and "card_section:intended_use" in compliance.description
    assert not approved.passed and "no approval request filed" in approved.description
    assert outcome.as_metadata()["risk_tier"] == "high"
    (blocked,) = store.read_audit(event=APPROVAL_BLOCKED)
    assert blocked["target"] == "model/credit/3@staging"
    assert blocked["correlation_id"] == "corr-7" and not blocked["details"]["passed"]


def test_an_approval_given_earlier_does_not_pass_once_the_card_misses_a_section(
    store: GovernanceStore,
) -> None:
    filed = _file(store, _card())
    assert filed.request is not None and filed.request.tier == "high"
    assert filed.request.details["compliance"]["passed"]
    store.decide(filed.request.id, "approve", "validator_bob")
    assert _file(store, _card()).approved
    # The card is rewritten without its limitations: the gate no longer passes.
    outcome = _file(store, _card(limitations=[]))
    assert not outcome.approved
    assert [c.passed for c in outcome.checks()] == [False, False]
    assert outcome.request is not None and outcome.request.id == filed.request.id
