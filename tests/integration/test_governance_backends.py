"""The governance store on SQLite and on a real PostgreSQL: racing writers never corrupt it.

Every test runs twice (`governance_url` is parametrized); the PostgreSQL run uses the server
`.ci/run` started or a throwaway cluster, and is skipped (with the reason) when neither exists.
Threads use one engine each, like separate processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aurora_pipelines.errors import GovernanceError
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.governance.store import make_engine

D1 = "1" * 64
D2 = "2" * 64

POLICY = """\
teams:
  - name: risk
users:
  - {name: ds_alice, roles: [data_scientist], team: risk}
  - {name: validator_bob, roles: [model_validator], team: risk}
  - {name: validator_ben, roles: [model_validator], team: risk}
  - {name: mrm_carol, roles: [mrm], team: risk}
  - {name: release_manager_dave, roles: [release_manager], team: risk}
gates:
  staging: {roles: [model_validator]}
  production: {roles: [mrm, release_manager], quorum: [mrm, release_manager]}
"""


@pytest.fixture()
def policy_path(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def _store(url: str, policy_path: Path) -> GovernanceStore:
    return GovernanceStore(url, load_policy(policy_path))


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at the same instant; each result or its exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 — the test inspects which call lost
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _engines(url: str, policy_path: Path, n: int) -> list[GovernanceStore]:
    # A store per "process": its own engine and pool, not the process-wide shared one.
    stores = []
    for _ in range(n):
        store = _store(url, policy_path)
        store.__dict__["_engine"] = make_engine(url)
        stores.append(store)
    return stores


def test_two_approvers_deciding_at_the_same_moment_exactly_one_wins(
    governance_url: str, policy_path: Path
) -> None:
    main = _store(governance_url, policy_path)
    bob, ben = _engines(governance_url, policy_path, 2)
    for version in range(1, 6):
        digest = f"{version}" * 64
        request = main.request_approval("credit", "staging", "m", version, digest, "ds_alice")
        results = _race(
            lambda r=request: bob.decide(r.id, "approve", "validator_bob", "ok"),
            lambda r=request: ben.decide(r.id, "reject", "validator_ben", "leakage"),
        )
        winners = [r for r in results if not isinstance(r, Exception)]
        losers = [r for r in results if isinstance(r, Exception)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert isinstance(losers[0], GovernanceError)
        assert "can never be decided again" in str(losers[0])
        final = main.get_request(request.id)
        assert (final.status, final.decided_by) == (winners[0].status, winners[0].decided_by)
        assert len(final.decisions) == 1
    assert main.verify_audit().ok
    decided = main.read_audit(event="approval_approved") + main.read_audit(
        event="approval_rejected"
    )
    assert len(decided) == 5
    assert len(main.read_audit(event="access_denied")) == 5
    for store in (main, bob, ben):
        store.dispose()


def test_concurrent_audit_appends_keep_one_valid_chain(
    governance_url: str, policy_path: Path
) -> None:
    stores = _engines(governance_url, policy_path, 4)

    def writer(n: int) -> None:
        for i in range(15):
            stores[n].audit("run_started", f"worker{n}", f"run/{n}/{i}", {"i": i})

    results = _race(*(lambda n=n: writer(n) for n in range(4)))
    assert results == [None] * 4
    check = stores[0].verify_audit()
    assert (check.ok, check.rows) == (True, 60), check.reason
    assert [r["seq"] for r in stores[0].read_audit()] == list(range(1, 61))
    for store in stores:
        store.dispose()


def test_concurrent_requests_for_one_target_open_a_single_request(
    governance_url: str, policy_path: Path
) -> None:
    stores = _engines(governance_url, policy_path, 3)
    results = _race(
        *(
            lambda s=s: s.request_approval("credit", "staging", "m", 1, D1, "ds_alice")
            for s in stores
        )
    )
    assert len({r.id for r in results}) == 1, results
    assert len(stores[0].list_requests(status="pending")) == 1
    assert stores[0].verify_audit().ok
    for store in stores:
        store.dispose()


def test_quorum_approvals_racing_both_count_and_approve_once(
    governance_url: str, policy_path: Path
) -> None:
    main = _store(governance_url, policy_path)
    carol, dave = _engines(governance_url, policy_path, 2)
    request = main.request_approval("credit", "production", "m", 1, D1, "ds_alice")
    results = _race(
        lambda: carol.decide(request.id, "approve", "mrm_carol"),
        lambda: dave.decide(request.id, "approve", "release_manager_dave"),
    )
    assert not any(isinstance(r, Exception) for r in results), results
    final = main.get_request(request.id)
    assert final.status == "approved"
    assert final.approvers() == {"mrm": "mrm_carol", "release_manager": "release_manager_dave"}
    assert main.verify_approval("production", "m", 1, D1).ok
    assert len(main.decisions_after(0)) == 1  # the sensor sees one decision, the final one
    for store in (main, carol, dave):
        store.dispose()


def test_edited_audit_row_is_detected(governance_url: str, policy_path: Path) -> None:
    store = _store(governance_url, policy_path)
    request = store.request_approval("credit", "staging", "m", 1, D2, "ds_alice")
    store.decide(request.id, "approve", "validator_bob", "fine")
    assert store.verify_audit().ok
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'validator_ben' WHERE seq = 2"))
    check = store.verify_audit()
    assert (check.ok, check.first_bad_seq) == (False, 2)
    assert "edited" in check.reason
    store.dispose()


def test_sql_looking_comment_is_stored_verbatim(governance_url: str, policy_path: Path) -> None:
    store = _store(governance_url, policy_path)
    request = store.request_approval("credit", "staging", "m", 1, D1, "ds_alice")
    other = store.request_approval("other", "staging", "m2", 1, D2, "ds_alice")
    comment = "'; DROP TABLE audit_log; UPDATE approval_requests SET status='approved'; --"
    decided = store.decide(request.id, "reject", "validator_bob", comment)
    assert decided.comment == comment
    assert store.get_request(other.id).status == "pending"
    assert store.list_requests(experiment="x' OR '1'='1") == []
    assert store.read_audit(event="approval_rejected")[0]["details"]["comment"] == comment
    assert store.verify_audit().ok
    store.dispose()
