"""Quorum gates, request expiry and "nobody decides twice", on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from aurora_pipelines.errors import GovernanceError, PermissionDenied
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.governance.models import approval_requests

D1 = "1" * 64
D2 = "2" * 64

POLICY = """\
teams:
  - name: risk
users:
  - {name: ds_alice, roles: [data_scientist], team: risk}
  - {name: validator_bob, roles: [model_validator], team: risk}
  - {name: mrm_carol, roles: [mrm], team: risk}
  - {name: mrm_chris, roles: [mrm], team: risk}
  - {name: release_manager_dave, roles: [release_manager], team: risk}
  - {name: both_frank, roles: [mrm, release_manager], team: risk}
gates:
  staging: {roles: [model_validator], expires_after_hours: 24}
  production: {roles: [mrm, release_manager], quorum: [mrm, release_manager]}
"""


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[GovernanceStore]:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    s = GovernanceStore(f"sqlite:///{tmp_path / 'governance.db'}", load_policy(path))
    yield s
    s.dispose()


def _prod(store: GovernanceStore, version: int = 1, digest: str = D1):
    return store.request_approval("credit", "production", "m", version, digest, "ds_alice")


def _age(store: GovernanceStore, request_id: int, hours: float) -> None:
    """Move a request's timestamp into the past, as if it had waited that long."""
    with store.engine.begin() as conn:
        conn.execute(
            sa.update(approval_requests)
            .where(approval_requests.c.id == request_id)
            .values(requested_at=datetime.now(UTC) - timedelta(hours=hours))
        )


def test_quorum_gate_is_approved_only_when_every_required_role_approved(
    store: GovernanceStore,
) -> None:
    request = _prod(store)
    after_mrm = store.decide(request.id, "approve", "mrm_carol", "risk ok")
    assert after_mrm.status == "pending"
    assert after_mrm.approvers() == {"mrm": "mrm_carol"}
    verdict = store.verify_approval("production", "m", 1, D1)
    assert not verdict.ok and "quorum still needs release_manager" in verdict.reason
    assert store.decisions_after(0) == []  # the sensor has nothing to promote yet
    final = store.decide(request.id, "approve", "release_manager_dave", "release ok")
    assert final.status == "approved" and final.decided_by == "release_manager_dave"
    assert store.verify_approval("production", "m", 1, D1).ok
    events = [r["event"] for r in store.read_audit()]
    assert events[-2:] == ["approval_partially_approved", "approval_approved"]


def test_quorum_needs_distinct_people_for_distinct_roles(store: GovernanceStore) -> None:
    request = _prod(store)
    store.decide(request.id, "approve", "mrm_carol")
    # A second mrm cannot fill the release_manager seat.
    with pytest.raises(PermissionDenied, match=r"release_manager still missing.*mrm_chris"):
        store.decide(request.id, "approve", "mrm_chris")
    # Someone holding both roles counts once, for the missing one.
    final = store.decide(request.id, "approve", "both_frank")
    assert final.status == "approved"
    assert final.approvers() == {"mrm": "mrm_carol", "release_manager": "both_frank"}


def test_nobody_decides_the_same_request_twice(store: GovernanceStore) -> None:
    request = _prod(store)
    store.decide(request.id, "approve", "both_frank")
    with pytest.raises(GovernanceError, match=r"both_frank already decided.*nobody decides"):
        store.decide(request.id, "approve", "both_frank")
    assert store.get_request(request.id).approvers() == {"mrm": "both_frank"}
    denied = store.read_audit(event="access_denied")
    assert denied[-1]["actor"] == "both_frank"


def test_nobody_decides_twice_even_past_the_application_check(store: GovernanceStore) -> None:
    request = _prod(store)
    store.decide(request.id, "approve", "mrm_carol")
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO approval_decisions (request_id, actor, role, decision, decided_at, "
            f"audit_seq) VALUES ({request.id}, 'mrm_carol', 'release_manager', 'approve', "
            "'2026-01-01 00:00:00', 999)"
        )


def test_any_quorum_member_can_reject_at_once(store: GovernanceStore) -> None:
    request = _prod(store)
    store.decide(request.id, "approve", "mrm_carol")
    rejected = store.decide(request.id, "reject", "release_manager_dave", "no rollback plan")
    assert rejected.status == "rejected"
    assert not store.verify_approval("production", "m", 1, D1).ok


def test_quorum_approval_lapses_when_an_approver_loses_the_role(
    store: GovernanceStore, tmp_path: Path
) -> None:
    request = _prod(store)
    store.decide(request.id, "approve", "mrm_carol")
    store.decide(request.id, "approve", "release_manager_dave")
    demoted = tmp_path / "demoted.yaml"
    demoted.write_text(
        POLICY.replace(
            "release_manager_dave, roles: [release_manager]",
            "release_manager_dave, roles: [data_scientist]",
        )
    )
    verdict = store.verify_approval("production", "m", 1, D1, policy=load_policy(demoted))
    assert not verdict.ok and "no longer holds" in verdict.reason


def test_overdue_request_expires_and_can_never_be_decided(store: GovernanceStore) -> None:
    request = store.request_approval("credit", "staging", "m", 1, D1, "ds_alice")
    _age(store, request.id, hours=25)
    with pytest.raises(GovernanceError, match=r"expired .* can never be decided"):
        store.decide(request.id, "approve", "validator_bob")
    expired = store.get_request(request.id)
    assert expired.status == "expired" and expired.decided_by is None
    assert store.read_audit(event="approval_expired")[0]["actor"] == "aurora"
    assert store.read_audit(event="access_denied")[-1]["actor"] == "validator_bob"
    assert "expired" in store.verify_approval("staging", "m", 1, D1).reason
    # Asking again opens a fresh request rather than handing back the expired one.
    again = store.request_approval("credit", "staging", "m", 1, D1, "ds_alice")
    assert again.id != request.id and again.status == "pending"
    assert store.decide(again.id, "approve", "validator_bob").status == "approved"
    assert store.verify_audit().ok


def test_listing_expires_overdue_requests_within_the_limit_only(store: GovernanceStore) -> None:
    old = store.request_approval("credit", "staging", "m", 1, D1, "ds_alice")
    _age(store, old.id, hours=30)
    fresh = store.request_approval("other", "staging", "m2", 1, D2, "ds_alice")
    _age(store, fresh.id, hours=23)
    statuses = {r.id: r.status for r in store.list_requests()}
    assert statuses == {old.id: "expired", fresh.id: "pending"}
    assert store.expires_at(store.get_request(fresh.id)) is not None
    assert store.expires_at(_prod(store)) is None  # production has no time limit


def test_quorum_roles_must_be_gate_roles(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(POLICY.replace("quorum: [mrm, release_manager]", "quorum: [mrm, admin]"))
    with pytest.raises(GovernanceError, match=r"quorum role\(s\) \['admin'\] are not in"):
        load_policy(path)
