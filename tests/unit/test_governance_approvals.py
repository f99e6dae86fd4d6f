"""Maker-checker approval requests on a real SQLite file: who may decide what, and when."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from aurora_pipelines.errors import GovernanceError, NotFound, PermissionDenied
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.settings import DEFAULT_POLICY

D1 = "1" * 64
D2 = "2" * 64
D3 = "3" * 64

# A policy where the requester also holds the validator role, so only maker-checker stops them.
DUAL_ROLE_POLICY = """\
teams:
  - name: risk
users:
  - name: ds_alice
    roles: [data_scientist, model_validator]
    team: risk
  - name: validator_bob
    roles: [model_validator]
    team: risk
gates:
  staging: {roles: [model_validator]}
"""


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[GovernanceStore]:
    s = GovernanceStore(
        f"sqlite:///{tmp_path / 'gov' / 'governance.db'}", load_policy(DEFAULT_POLICY)
    )
    yield s
    s.dispose()


def _request(store: GovernanceStore, version: int = 1, digest: str = D1, gate: str = "staging"):
    return store.request_approval("credit", gate, "credit_model", version, digest, "ds_alice")


def _denials(store: GovernanceStore) -> list[dict]:
    return store.read_audit(event="access_denied")


def test_requester_cannot_approve_own_request_even_with_the_role(tmp_path: Path) -> None:
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(DUAL_ROLE_POLICY)
    store = GovernanceStore(f"sqlite:///{tmp_path / 'g.db'}", load_policy(policy_path))
    request = _request(store)
    with pytest.raises(
        PermissionDenied, match=r"requester cannot approve their own.*validator_bob"
    ):
        store.decide(request.id, "approve", "ds_alice", "lgtm")
    assert store.get_request(request.id).status == "pending"
    assert store.decide(request.id, "approve", "validator_bob").status == "approved"
    store.dispose()


def test_user_without_a_gate_role_cannot_approve(store: GovernanceStore) -> None:
    request = _request(store)
    with pytest.raises(PermissionDenied, match=r"validator_bob may approve the staging gate"):
        store.decide(request.id, "approve", "mrm_carol")
    prod = _request(store, gate="production")
    with pytest.raises(PermissionDenied, match=r"mrm_carol may approve the production gate"):
        store.decide(prod.id, "approve", "validator_bob")
    assert store.decide(prod.id, "approve", "mrm_carol").status == "approved"


def test_unknown_actor_cannot_decide(store: GovernanceStore) -> None:
    request = _request(store)
    with pytest.raises(PermissionDenied, match=r"unknown identity 'mallory'.*AURORA_USER"):
        store.decide(request.id, "approve", "mallory")


def test_reject_and_request_changes_need_a_comment(store: GovernanceStore) -> None:
    request = _request(store)
    for decision in ("reject", "request_changes"):
        for comment in (None, "   "):
            with pytest.raises(GovernanceError, match="needs a comment"):
                store.decide(request.id, decision, "validator_bob", comment)
    assert store.get_request(request.id).status == "pending"
    rejected = store.decide(request.id, "reject", "validator_bob", "AUC below the bar")
    assert (rejected.status, rejected.comment) == ("rejected", "AUC below the bar")


def test_decided_request_can_never_be_decided_again(store: GovernanceStore) -> None:
    request = _request(store)
    store.decide(request.id, "reject", "validator_bob", "leakage in feature x")
    with pytest.raises(GovernanceError, match=r"already rejected by validator_bob.*never"):
        store.decide(request.id, "approve", "validator_bob")
    assert store.get_request(request.id).status == "rejected"
    # A rejected target is not reused: asking again opens a fresh request.
    again = _request(store)
    assert again.id != request.id and again.status == "pending"


def test_new_version_supersedes_pending_request_which_can_never_be_approved(
    store: GovernanceStore,
) -> None:
    old = _request(store, version=1, digest=D1)
    new = _request(store, version=2, digest=D2)
    assert store.get_request(old.id).status == "superseded"
    assert (
        store.read_audit(event="approval_superseded")[0]["target"] == f"approval_request/{old.id}"
    )
    with pytest.raises(GovernanceError, match=r"already superseded.*never"):
        store.decide(old.id, "approve", "validator_bob")
    assert store.get_request(new.id).status == "pending"
    verdict = store.verify_approval("staging", "credit_model", 1, D1)
    assert not verdict.ok and "superseded by request" in verdict.reason


def test_approved_requests_are_not_superseded_by_a_new_version(store: GovernanceStore) -> None:
    v1 = _request(store, version=1, digest=D1)
    store.decide(v1.id, "approve", "validator_bob")
    _request(store, version=2, digest=D2)
    assert store.verify_approval("staging", "credit_model", 1, D1).ok


def test_decision_refused_when_artifact_digest_changed(store: GovernanceStore) -> None:
    request = _request(store, digest=D1)
    with pytest.raises(GovernanceError, match=r"digest 111111111111… but the model artifact now"):
        store.decide(request.id, "approve", "validator_bob", current_digest=D2)
    assert store.get_request(request.id).status == "pending"
    approved = store.decide(request.id, "approve", "validator_bob", current_digest=D1)
    assert approved.decided_by == "validator_bob"


def test_verify_approval_only_for_the_exact_version_and_digest(store: GovernanceStore) -> None:
    request = _request(store, version=3, digest=D1)
    pending = store.verify_approval("staging", "credit_model", 3, D1)
    assert (
        not pending.ok and f"request #{request.id} is pending: ask validator_bob" in pending.reason
    )
    store.decide(request.id, "approve", "validator_bob")

    ok = store.verify_approval("staging", "credit_model", "3", D1)
    assert ok.ok and ok.request is not None and ok.request.id == request.id
    other_version = store.verify_approval("staging", "credit_model", 4, D1)
    assert not other_version.ok and "no approval request" in other_version.reason
    assert "version 4" in other_version.reason
    other_digest = store.verify_approval("staging", "credit_model", 3, D2)
    assert not other_digest.ok
    assert "approved for digest 111111111111… but the model's digest is 222222222222…" in (
        other_digest.reason
    )
    other_gate = store.verify_approval("production", "credit_model", 3, D1)
    assert not other_gate.ok


def test_approval_lapses_when_the_approver_loses_the_role(
    store: GovernanceStore, tmp_path: Path
) -> None:
    request = _request(store)
    store.decide(request.id, "approve", "validator_bob")
    assert store.verify_approval("staging", "credit_model", 1, D1).ok
    demoted = DEFAULT_POLICY.read_text().replace(
        "roles: [model_validator]\n    team: model_risk",
        "roles: [data_scientist]\n    team: model_risk",
    )
    assert demoted != DEFAULT_POLICY.read_text()
    path = tmp_path / "demoted.yaml"
    path.write_text(demoted)
    verdict = store.verify_approval("staging", "credit_model", 1, D1, policy=load_policy(path))
    assert not verdict.ok
    assert (
        "validator_bob, who no longer holds a role allowed for the staging gate" in verdict.reason
    )


def test_approval_by_the_requester_never_verifies(store: GovernanceStore) -> None:
    request = _request(store)
    store.decide(request.id, "approve", "validator_bob")
    # Tamper: pretend the requester approved it (e.g. an edit behind the engine's back).
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE approval_requests SET decided_by = 'ds_alice'"))
    verdict = store.verify_approval("staging", "credit_model", 1, D1)
    assert not verdict.ok and "maker-checker" in verdict.reason


def test_request_is_idempotent_for_the_same_target(store: GovernanceStore) -> None:
    first = _request(store)
    second = _request(store)
    assert second.id == first.id
    assert len(store.list_requests()) == 1
    assert len(store.read_audit(event="approval_requested")) == 1
    store.decide(first.id, "approve", "validator_bob")
    third = _request(store)
    assert (third.id, third.status) == (first.id, "approved")


def test_refusals_are_audited_as_access_denied(store: GovernanceStore) -> None:
    request = _request(store)
    attempts = [
        ("approve", "ds_alice", None, None),
        ("approve", "mrm_carol", None, None),
        ("approve", "mallory", None, None),
        ("reject", "validator_bob", "", None),
        ("approve", "validator_bob", None, D2),
    ]
    for decision, actor, comment, digest in attempts:
        with pytest.raises(GovernanceError):
            store.decide(request.id, decision, actor, comment, current_digest=digest)
    denials = _denials(store)
    assert [d["actor"] for d in denials] == [a[1] for a in attempts]
    assert all(d["target"] == f"approval_request/{request.id}" for d in denials)
    assert all(d["details"]["reason"] for d in denials)
    assert store.get_request(request.id).status == "pending"
    with pytest.raises(PermissionDenied):
        store.request_approval("credit", "staging", "credit_model", 1, D1, "mallory")
    assert _denials(store)[-1]["actor"] == "mallory"
    assert store.verify_audit().ok


def test_unknown_gate_and_bad_digest_are_refused(store: GovernanceStore) -> None:
    with pytest.raises(GovernanceError, match=r"unknown gate 'uat'.*staging, production"):
        _request(store, gate="uat")
    with pytest.raises(GovernanceError, match=r"not a sha256 hex digest"):
        _request(store, digest="abc")
    assert store.list_requests() == []


def test_unknown_request_id_is_not_found(store: GovernanceStore) -> None:
    with pytest.raises(NotFound, match="#99"):
        store.get_request(99)
    with pytest.raises(NotFound):
        store.decide(99, "approve", "validator_bob")


def test_state_change_rolls_back_when_its_audit_row_cannot_be_written(
    store: GovernanceStore,
) -> None:
    request = _request(store)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
            "WHEN NEW.event = 'approval_approved' BEGIN SELECT RAISE(ABORT, 'audit down'); END"
        )
    with pytest.raises(GovernanceError):
        store.decide(request.id, "approve", "validator_bob")
    after = store.get_request(request.id)
    assert (after.status, after.decided_by) == ("pending", None)


def test_decisions_after_follows_decision_order_not_request_order(store: GovernanceStore) -> None:
    staging = _request(store, gate="staging")
    prod = _request(store, gate="production")
    assert store.decisions_after(0) == []
    store.decide(prod.id, "approve", "mrm_carol")
    first = store.decisions_after(0)
    assert [r.id for r in first] == [prod.id]
    cursor = first[-1].decision_seq
    assert cursor is not None
    store.decide(staging.id, "request_changes", "validator_bob", "add a calibration plot")
    later = store.decisions_after(cursor)
    assert [(r.id, r.status) for r in later] == [(staging.id, "changes_requested")]
    assert store.decisions_after(later[-1].decision_seq) == []


def test_list_latest_and_to_dict(store: GovernanceStore) -> None:
    _request(store, version=1, digest=D1)
    v2 = _request(store, version=2, digest=D2)
    store.request_approval("other", "staging", "other_model", 1, D3, "ds_alice")
    assert [r.id for r in store.list_requests(experiment="credit")] == [1, v2.id]
    assert [r.id for r in store.list_requests(status="superseded")] == [1]
    assert store.list_requests(gate="production") == []
    assert store.latest_request("credit", "staging", "credit_model", 2) == v2
    assert store.latest_request("credit", "staging", "credit_model", 9) is None
    data = json.loads(json.dumps(v2.to_dict()))
    assert data["model_version"] == "2" and data["status"] == "pending"
    assert data["requested_at"].endswith("+00:00") and data["decided_at"] is None
    assert {"id", "experiment", "gate", "model_digest", "correlation_id"} <= set(data)


def test_digest_prefix_and_case_do_not_split_the_target(store: GovernanceStore) -> None:
    request = store.request_approval(
        "credit", "staging", "credit_model", 1, "sha256:" + "A" * 64, "ds_alice"
    )
    assert request.model_digest == "a" * 64
    assert _request(store, digest="a" * 64).id == request.id
    store.decide(request.id, "approve", "validator_bob", current_digest="sha256:" + "a" * 64)
    assert store.verify_approval("staging", "credit_model", 1, "sha256:" + "a" * 64).ok
