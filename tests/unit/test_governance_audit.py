"""The hash-chained audit log on a real SQLite file: tampering is detected, writers never fork."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from aurora_pipelines.governance.audit import (
    GENESIS_HASH,
    append_audit,
    read_audit,
    row_hash,
    verify_chain,
)
from aurora_pipelines.governance.models import create_tables
from aurora_pipelines.governance.store import make_engine


def _engine(tmp_path: Path, rows: int = 0) -> sa.Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'audit' / 'audit.db'}")
    create_tables(engine)
    for i in range(rows):
        append_audit(engine, "run", "ds_alice", f"run/{i}", {"i": i, "b": [1, 2]}, f"corr-{i}")
    return engine


def _sql(engine: sa.Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


def test_chain_links_every_row_to_the_previous_one(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rows=5)
    rows = read_audit(engine)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["prev_hash"] == GENESIS_HASH
    for prev, row in zip(rows, rows[1:], strict=False):
        assert row["prev_hash"] == prev["hash"]
    assert rows[2]["details"] == {"b": [1, 2], "i": 2}
    assert rows[2]["ts"].endswith("+00:00")
    result = verify_chain(engine)
    assert (result.ok, result.rows, result.first_bad_seq) == (True, 5, None)
    assert result.head_hash == rows[-1]["hash"]


def test_hash_covers_every_field(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rows=1)
    row = read_audit(engine)[0]
    with engine.connect() as conn:
        stored_details = conn.exec_driver_sql("SELECT details FROM audit_log").scalar_one()
    assert stored_details == '{"b":[1,2],"i":0}'  # canonical: sorted keys, compact
    fields = dict(
        seq=1,
        ts=row["ts"],
        event="run",
        actor="ds_alice",
        target="run/0",
        details=stored_details,
        correlation_id="corr-0",
        prev_hash=GENESIS_HASH,
    )
    assert row_hash(**fields) == row["hash"]
    for key in ("event", "actor", "target", "details", "correlation_id", "ts"):
        assert row_hash(**{**fields, key: "x"}) != row["hash"], key


def test_empty_log_verifies(tmp_path: Path) -> None:
    result = verify_chain(_engine(tmp_path))
    assert (result.ok, result.rows, result.head_hash) == (True, 0, None)


def test_edited_details_are_detected_at_that_row(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rows=6)
    _sql(engine, """UPDATE audit_log SET details = '{"b":[1,2],"i":99}' WHERE seq = 4""")
    result = verify_chain(engine)
    assert not result.ok and result.first_bad_seq == 4 and result.rows == 3
    assert "seq 4 was edited" in result.reason


def test_edited_actor_is_detected(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rows=3)
    _sql(engine, "UPDATE audit_log SET actor = 'validator_bob' WHERE seq = 1")
    assert verify_chain(engine).first_bad_seq == 1


def test_deleted_row_is_detected_as_the_missing_seq(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rows=6)
    _sql(engine, "DELETE FROM audit_log WHERE seq = 3")
    result = verify_chain(engine)
    assert not result.ok and result.first_bad_seq == 3
    assert "seq 3 is missing" in result.reason


def test_deleted_and_renumbered_rows_are_detected(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rows=5)
    # Hide the gap: delete seq 2 and shift the later rows down.
    _sql(
        engine,
        "DELETE FROM audit_log WHERE seq = 2",
        "UPDATE audit_log SET seq = seq - 1 WHERE seq > 2",
    )
    result = verify_chain(engine)
    assert not result.ok and result.first_bad_seq == 2


def test_swapped_rows_are_detected_at_the_first_moved_seq(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rows=6)
    _sql(
        engine,
        "UPDATE audit_log SET seq = -1 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = -1",
    )
    result = verify_chain(engine)
    assert not result.ok and result.first_bad_seq == 2


def test_a_fork_of_the_chain_is_refused_by_the_database(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rows=2)
    head = read_audit(engine)[-1]
    fork = "INSERT INTO audit_log (seq, ts, event, actor, target, details, prev_hash, hash) "
    with pytest.raises(sa.exc.IntegrityError):
        _sql(engine, fork + f"VALUES (3, 't', 'e', 'a', 't', '{{}}', '{head['prev_hash']}', 'h1')")
    with pytest.raises(sa.exc.IntegrityError):
        _sql(engine, fork + f"VALUES (2, 't', 'e', 'a', 't', '{{}}', '{'f' * 64}', 'h2')")


def test_audit_row_joins_the_callers_transaction(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rows=1)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        append_audit(conn, "promotion", "release_manager_dave", "model/m/1")
        raise RuntimeError("the state change failed")
    assert [r["event"] for r in read_audit(engine)] == ["run"]


def test_read_audit_limit_returns_the_newest_rows_oldest_first(tmp_path: Path) -> None:
    engine = _engine(tmp_path, rows=5)
    assert [r["seq"] for r in read_audit(engine, limit=2)] == [4, 5]
    assert [r["seq"] for r in read_audit(engine, correlation_id="corr-1")] == [2]


def test_concurrent_appends_from_threads_keep_one_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit' / 'audit.db'}"
    create_tables(make_engine(url))
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        engine = make_engine(url)  # one engine per thread, like separate processes
        try:
            for i in range(15):
                append_audit(engine, "run", f"worker{n}", f"run/{n}/{i}")
        except BaseException as exc:  # noqa: BLE001 — surfaced by the assertion below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    engine = make_engine(url)
    result = verify_chain(engine)
    assert (result.ok, result.rows) == (True, 60), result.reason
    assert [r["seq"] for r in read_audit(engine)] == list(range(1, 61))


def test_concurrent_appends_from_two_processes_keep_one_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit' / 'audit.db'}"
    create_tables(make_engine(url))
    script = (
        "import sys\n"
        "from aurora_pipelines.governance.audit import append_audit\n"
        "from aurora_pipelines.governance.store import make_engine\n"
        "engine = make_engine(sys.argv[1])\n"
        "for i in range(25):\n"
        "    append_audit(engine, 'run', 'proc' + sys.argv[2], f'run/{i}')\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, url, str(n)], stderr=subprocess.PIPE)
        for n in range(2)
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr.decode()
    result = verify_chain(make_engine(url))
    assert (result.ok, result.rows) == (True, 50), result.reason


def test_append_with_an_orm_session_joins_its_transaction(tmp_path: Path) -> None:
    from sqlalchemy.orm import Session

    engine = _engine(tmp_path, rows=1)
    with Session(engine) as session:
        append_audit(session, "run", "ds_alice", "run/rolled-back")
        session.rollback()
    with Session(engine) as session:
        append_audit(session, "run", "ds_alice", "run/kept")
        session.commit()
    assert [r["target"] for r in read_audit(engine)] == ["run/0", "run/kept"]
    assert verify_chain(engine).ok
