"""The audit chain's head recorded outside the database: truncating the newest rows or rewriting
the chain is detected; a rolled-back append never moves the head."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from aurora_pipelines.errors import GovernanceError
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.governance.audit import append_audit, row_hash, transact, verify_chain
from aurora_pipelines.governance.head_anchor import FileHeadAnchor
from aurora_pipelines.settings import DEFAULT_POLICY


def _store(tmp_path: Path, rows: int = 0, **kwargs) -> GovernanceStore:
    store = GovernanceStore(
        f"sqlite:///{tmp_path / 'gov' / 'governance.db'}", load_policy(DEFAULT_POLICY), **kwargs
    )
    for i in range(rows):
        store.audit("run_started", "ds_alice", f"experiment/e{i}", {"i": i})
    return store


def _sql(store: GovernanceStore, *statements: str) -> None:
    with store.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_every_append_records_the_new_head_next_to_the_sqlite_database(tmp_path: Path) -> None:
    store = _store(tmp_path, rows=3)
    head_file = tmp_path / "gov" / "governance.db.audit-head"
    lines = [json.loads(line) for line in head_file.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3]
    assert (lines[-1]["seq"], lines[-1]["hash"]) == store.audit_head()
    check = store.verify_audit()
    assert check.ok and check.anchored_seq == 3 and "head seq 3" in check.reason


def test_truncating_the_newest_rows_is_detected(tmp_path: Path) -> None:
    store = _store(tmp_path, rows=5)
    _sql(store, "DELETE FROM audit_log WHERE seq >= 4")
    check = store.verify_audit()
    assert not check.ok and check.first_bad_seq == 4
    assert "ends at seq 3" in check.reason and "newest 2 row(s) were deleted" in check.reason


def test_a_chain_rewritten_after_an_edit_is_detected(tmp_path: Path) -> None:
    store = _store(tmp_path, rows=4)
    # Edit row 2 and recompute every hash from there: the chain alone is valid again.
    _sql(store, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    columns = ("seq", "ts", "event", "actor", "target", "details", "correlation_id", "prev_hash")
    with store.engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT * FROM audit_log ORDER BY seq")).mappings().all()
        prev = rows[0]["hash"]
        for row in rows[1:]:
            content = {k: row[k] for k in columns} | {"prev_hash": prev}
            prev = row_hash(**content)
            conn.execute(
                sa.text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
                {"p": content["prev_hash"], "h": prev, "s": row["seq"]},
            )
    assert verify_chain(store.engine, anchor=FileHeadAnchor(tmp_path / "elsewhere")).ok
    check = store.verify_audit()
    assert not check.ok and check.first_bad_seq == 4 and "rewritten" in check.reason


def test_a_rolled_back_append_does_not_move_the_head(tmp_path: Path) -> None:
    store = _store(tmp_path, rows=2)

    def work(conn: sa.Connection) -> None:
        append_audit(conn, "approval_requested", "ds_alice", "model/m/1@staging")
        raise GovernanceError("refused after the audit row was written")

    with pytest.raises(GovernanceError):
        transact(store.engine, work)
    assert store.audit_head()[0] == 2
    assert store.verify_audit().ok


def test_an_explicit_head_file_and_a_database_without_one(tmp_path: Path) -> None:
    elsewhere = tmp_path / "worm" / "head.log"
    store = _store(tmp_path, rows=2, audit_head=elsewhere)
    assert len(elsewhere.read_text().splitlines()) == 2
    assert store.verify_audit().anchor == str(elsewhere)
    # A database whose head was never recorded (made before this existed) still verifies.
    elsewhere.unlink()
    assert store.verify_audit().ok


def test_the_head_file_must_stay_writable(tmp_path: Path) -> None:
    blocked = tmp_path / "not_a_dir"
    blocked.write_text("")
    store = _store(tmp_path, audit_head=blocked / "head.log")
    with pytest.raises(GovernanceError, match=r"was committed but its head could not be recorded"):
        store.audit("run_started", "ds_alice", "experiment/e")


def test_a_request_whose_maker_cannot_be_established_is_refused(tmp_path: Path) -> None:
    from aurora_pipelines.errors import PermissionDenied

    store = _store(tmp_path)
    for maker in ("", "unknown", "whoever_started_the_webserver"):
        with pytest.raises(PermissionDenied, match="identity"):
            store.request_approval("e", "staging", "m", "1", "a" * 64, maker)
    assert store.list_requests() == []
    assert [r["details"]["action"] for r in store.read_audit(event="access_denied")] == [
        "request_approval"
    ] * 3


def test_an_old_database_gets_the_token_expiry_column(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # api_tokens as the previous version created it
        conn.exec_driver_sql(
            "CREATE TABLE api_tokens (id INTEGER PRIMARY KEY, user_name VARCHAR(100) NOT NULL, "
            "token_hash VARCHAR(64) NOT NULL UNIQUE, prefix VARCHAR(16) NOT NULL, label "
            "VARCHAR(200), created_by VARCHAR(100) NOT NULL, created_at DATETIME NOT NULL, "
            "revoked_by VARCHAR(100), revoked_at DATETIME)"
        )
    store = GovernanceStore(url, load_policy(DEFAULT_POLICY))
    token, info = store.create_token("validator_bob", "validator_bob")
    assert info.expires_at is None and store.authenticate(token, "test") == "validator_bob"
