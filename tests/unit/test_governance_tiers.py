"""Risk tiers: the spec's risk answers -> the policy's tier -> that tier's gate chain, tier
changes that void pending requests, and approvals that fall due for revalidation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from aurora_pipelines.commands.demo import DEMO_APPROVERS, EXPERIMENT
from aurora_pipelines.errors import GovernanceError, PermissionDenied, SpecError
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.governance.models import approval_requests
from aurora_pipelines.governance.tiers import RISK_TIER_CHANGED, assess_tier, gate_chain
from aurora_pipelines.settings import DEFAULT_POLICY, REPO_DIR
from aurora_pipelines.specs import RiskSpec, find_spec, load_spec
from tests.factories import make_spec

D1 = "1" * 64
D2 = "2" * 64
LOW = {
    "materiality": "low",
    "decision_automation": "advisory",
    "personal_data": False,
    "regulatory_use": [],
}


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[GovernanceStore]:
    s = GovernanceStore(f"sqlite:///{tmp_path / 'governance.db'}", load_policy(DEFAULT_POLICY))
    yield s
    s.dispose()


def _request(store: GovernanceStore, gate: str, tier: str, version: int = 1, digest: str = D1):
    return store.request_approval("credit", gate, "m", version, digest, "ds_alice", tier=tier)


def test_demo_experiment_is_medium_tier_and_its_demo_approvers_satisfy_the_chain() -> None:
    policy = load_policy(DEFAULT_POLICY)
    spec = find_spec(REPO_DIR / "experiments", EXPERIMENT)
    tier = assess_tier(policy, spec.governance.risk).tier
    assert tier == "medium"
    for gate, approver in DEMO_APPROVERS.items():
        # `make demo` approves each gate with one demo identity: no quorum, role allowed.
        assert policy.may_approve(approver, gate, tier), gate
        assert policy.quorum_for_gate(gate, tier) == []


def test_high_tier_example_spec_gets_the_longer_gate_chain() -> None:
    policy = load_policy(DEFAULT_POLICY)
    spec = load_spec(REPO_DIR / "experiments" / "examples" / "credit_limit.yaml")
    assessed = assess_tier(policy, spec.governance.risk)
    assert assessed.tier == "high"
    assert "materiality in [high]" in assessed.reason
    assert gate_chain(policy, "high") == [
        ("staging", "model_validator, expires after 72 h"),
        (
            "production",
            "quorum of mrm + second_line_reviewer, expires after 72 h, revalidate every 365 days",
        ),
    ]
    assert gate_chain(policy, "low") == [
        ("staging", "model_validator"),
        ("production", "model_validator"),
    ]
    req = policy.requirements("high")
    assert req.min_disparity_ratio == 0.8 and req.uat_report and req.holdout_cis


def test_tier_is_the_highest_any_rule_names_and_leaving_the_questionnaire_out_is_high() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert assess_tier(policy, RiskSpec(**LOW)).tier == "low"
    automated_credit = {**LOW, "decision_automation": "automated", "regulatory_use": "employment"}
    # Matches a medium rule (regulated use) and a high rule (automated + employment): high.
    assert assess_tier(policy, RiskSpec(**automated_credit)).tier == "high"
    assert assess_tier(policy, make_spec().governance.risk).tier == "high"


@pytest.mark.parametrize(
    ("risk", "expected"),
    [
        (
            {**LOW, "materiality": "huge"},
            r"`governance\.risk\.materiality`: Input should be 'low', 'medium' or 'high', "
            r"not 'huge'",
        ),
        (
            {k: v for k, v in LOW.items() if k != "personal_data"},
            r"missing required field `governance\.risk\.personal_data`",
        ),
        ({**LOW, "automation": "full"}, r"unknown field `governance\.risk\.automation`"),
        (
            {**LOW, "regulatory_use": ["credit_scoring"]},
            r"`governance\.risk\.regulatory_use\.0`: Input should be 'credit_decision'.*"
            r"not 'credit_scoring'",
        ),
    ],
)
def test_wrong_risk_section_is_refused_naming_the_field_and_the_allowed_answers(
    tmp_path: Path, risk: dict, expected: str
) -> None:
    import yaml

    spec = make_spec("loans").model_dump(mode="json", exclude_defaults=True)
    spec["governance"] = {"risk": risk}
    path = tmp_path / "loans.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError, match=expected) as err:
        load_spec(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("unassessed: high", "unassessed: severe"), r"tier `severe`"),
        (
            lambda t: t.split("\ntier_rule:")[0] + "\ntiers:" + t.split("\ntiers:")[1],
            r"`tiers` and `tier_rule` go together",
        ),
        (
            lambda t: t.replace("      when: {materiality: high}", "      when: {}"),
            r"a rule needs at least one condition",
        ),
        (
            lambda t: t.replace(
                "      staging: {roles: [model_validator], expires_after_hours: 72}",
                "      canary: {roles: [model_validator]}",
            ),
            r"tier `high` defines gate\(s\) \['canary'\]",
        ),
        (
            lambda t: t.replace("when: {materiality: high}", "when: {materiality: extreme}"),
            r"materiality",
        ),
    ],
)
def test_a_bad_tier_section_in_the_policy_names_what_is_wrong(
    tmp_path: Path, edit, expected: str
) -> None:
    text = DEFAULT_POLICY.read_text()
    edited = edit(text)
    assert edited != text
    path = tmp_path / "policy.yaml"
    path.write_text(edited)
    with pytest.raises(GovernanceError, match=expected):
        load_policy(path)


def test_a_role_may_not_decide_a_request_of_a_tier_whose_chain_excludes_it(
    store: GovernanceStore,
) -> None:
    # In the low tier a validator decides production; in the high tier it may not.
    low = store.request_approval("low_exp", "production", "low_m", 1, D1, "ds_alice", tier="low")
    assert store.decide(low.id, "approve", "validator_bob").status == "approved"
    high = _request(store, "production", "high")
    assert high.tier == "high" and high.to_dict()["tier"] == "high"
    with pytest.raises(
        PermissionDenied,
        match=r"validator_bob \(model_validator\) does not hold a role allowed for the "
        r"production gate of a high-tier request \(mrm or second_line_reviewer\)",
    ):
        store.decide(high.id, "approve", "validator_bob")
    denied = store.read_audit(event="access_denied")
    assert denied[-1]["actor"] == "validator_bob"
    assert denied[-1]["target"] == f"approval_request/{high.id}"
    # The high tier's quorum: MRM and a second-line reviewer, two people.
    assert store.decide(high.id, "approve", "mrm_carol").status == "pending"
    assert not store.verify_approval("production", "m", 1, D1, tier="high").ok
    assert store.decide(high.id, "approve", "reviewer_frank").status == "approved"
    assert store.verify_approval("production", "m", 1, D1, tier="high").ok


def test_tier_change_supersedes_pending_requests_of_the_old_tier_and_is_audited(
    store: GovernanceStore,
) -> None:
    staging = _request(store, "staging", "medium")
    store.decide(staging.id, "approve", "validator_bob")
    production = _request(store, "production", "medium")
    assert store.verify_approval("staging", "m", 1, D1, tier="medium").ok

    superseded = store.apply_tier("credit", "m", "high", "ds_alice", "corr-1")
    assert superseded == [production.id]
    voided = store.get_request(production.id)
    assert voided.status == "superseded"
    assert voided.comment == "superseded: risk tier changed from medium to high"
    (change,) = store.read_audit(event=RISK_TIER_CHANGED)
    assert change["target"] == "model/m" and change["correlation_id"] == "corr-1"
    assert (change["details"]["from"], change["details"]["to"]) == ("medium", "high")
    assert change["details"]["superseded"] == [production.id]
    # A superseded request can never be decided.
    with pytest.raises(GovernanceError, match="already superseded"):
        store.decide(production.id, "approve", "mrm_carol")
    # The staging approval was given under the old chain: it no longer counts.
    verdict = store.verify_approval("staging", "m", 1, D1, tier="high")
    assert not verdict.ok and "approved under risk tier medium" in verdict.reason
    # Applying the same tier again changes nothing and writes no second audit row.
    assert store.apply_tier("credit", "m", "high", "ds_alice") == []
    assert len(store.read_audit(event=RISK_TIER_CHANGED)) == 1
    # The staging gate files a new request under the new tier.
    again = _request(store, "staging", "high")
    assert again.id != staging.id and again.tier == "high" and again.status == "pending"
    assert store.audit_head() is not None and store.verify_audit().ok


def test_filing_under_a_new_tier_supersedes_the_other_gates_pending_request(
    store: GovernanceStore,
) -> None:
    production = _request(store, "production", "low")
    staging = _request(store, "staging", "medium", version=2, digest=D2)
    assert store.get_request(production.id).status == "superseded"
    assert staging.status == "pending"
    (change,) = store.read_audit(event=RISK_TIER_CHANGED)
    assert (change["details"]["from"], change["details"]["to"]) == ("low", "medium")


def test_an_approval_due_for_revalidation_stops_counting(store: GovernanceStore) -> None:
    request = _request(store, "production", "high")
    store.decide(request.id, "approve", "mrm_carol")
    approved = store.decide(request.id, "approve", "reviewer_frank")
    due = store.revalidation_due(approved)
    assert due is not None and due - approved.decided_at == timedelta(days=365)
    assert store.verify_approval("production", "m", 1, D1, tier="high").ok
    # A year and a day later (moved in the database, as if time had passed).
    past = datetime.now(UTC) - timedelta(days=366)
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(approval_requests)
            .where(approval_requests.c.id == request.id)
            .values(decided_at=past, requested_at=past)
        )
    verdict = store.verify_approval("production", "m", 1, D1, tier="high")
    assert not verdict.ok and "due for revalidation" in verdict.reason
    # Revalidating means a new request for the same version, decided again.
    renewal = _request(store, "production", "high")
    assert renewal.id != request.id and renewal.status == "pending"


def test_request_details_cannot_choose_the_tier(store: GovernanceStore) -> None:
    forged = store.request_approval(
        "credit", "production", "m", 1, D1, "ds_alice", details={"risk_tier": "low"}
    )
    assert forged.tier is None  # untiered: the top-level chain (mrm), not the low tier's
    with pytest.raises(PermissionDenied, match="mrm_carol may approve the production gate"):
        store.decide(forged.id, "approve", "validator_bob")
