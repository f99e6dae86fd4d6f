"""Governance store throughput on SQLite and PostgreSQL: audit appends (1 and 4 writers),
chain verification, and a full request -> approve cycle.

Figures are also given as a ratio to a baseline measured in the same run: inserting the same
number of plain rows (no chain, no locking) into a SQLite table, one transaction each.
PostgreSQL comes from AURORA_TEST_POSTGRES_URL or a throwaway cluster (see tests/postgres.py).

Usage: python benchmarks/bench_governance.py [--rows 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aurora_pipelines.governance import GovernanceStore, load_policy  # noqa: E402
from aurora_pipelines.governance.store import make_engine  # noqa: E402
from aurora_pipelines.settings import DEFAULT_POLICY  # noqa: E402


def baseline(rows: int, tmp: Path) -> float:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp / 'baseline.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    start = time.perf_counter()
    for i in range(rows):
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), {"v": str(i)})
    return time.perf_counter() - start


def measure(url: str, rows: int) -> dict[str, tuple[float, int]]:
    """operation -> (seconds, operations done)."""
    policy = load_policy(DEFAULT_POLICY)
    store = GovernanceStore(url, policy)
    out: dict[str, tuple[float, int]] = {}
    start = time.perf_counter()
    for i in range(rows):
        store.audit("run_started", "ds_alice", f"run/{i}")
    out["audit appends, 1 writer"] = (time.perf_counter() - start, rows)

    stores = []
    for _ in range(4):
        s = GovernanceStore(url, policy)
        s.__dict__["_engine"] = make_engine(url)
        stores.append(s)

    def writer(s: GovernanceStore, n: int) -> None:
        for i in range(rows // 4):
            s.audit("run_started", f"w{n}", f"run/{n}/{i}")

    threads = [threading.Thread(target=writer, args=(s, n)) for n, s in enumerate(stores)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out["audit appends, 4 writers"] = (time.perf_counter() - start, rows // 4 * 4)

    start = time.perf_counter()
    check = store.verify_audit()
    out["verify chain (rows)"] = (time.perf_counter() - start, check.rows)
    assert check.ok, check.reason

    start = time.perf_counter()
    for i in range(rows // 10):
        request = store.request_approval("bench", "staging", f"m{i}", 1, "a" * 64, "ds_alice")
        store.decide(request.id, "approve", "validator_bob", "ok")
    out["request + approve cycles"] = (time.perf_counter() - start, rows // 10)
    for s in [store, *stores]:
        s.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300)
    args = parser.parse_args()
    from tests.postgres import fresh_database, postgres_server, unavailable_reason

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        base = baseline(args.rows, tmp)
        results = {"sqlite": measure(f"sqlite:///{tmp / 'gov.db'}", args.rows)}
        reason = unavailable_reason()
        if reason is None:
            with postgres_server() as admin, fresh_database(admin) as url:
                results["postgresql"] = measure(url, args.rows)
        else:
            print(f"postgresql skipped: {reason}")
    print(f"baseline: {args.rows} plain SQLite inserts, one transaction each: {base:.3f} s\n")
    print("| operation | backend | seconds | ops/s | x baseline |")
    print("|---|---|---:|---:|---:|")
    for backend, figures in results.items():
        for name, (seconds, ops) in figures.items():
            print(
                f"| {name} | {backend} | {seconds:.3f} | {ops / seconds:,.0f} | "
                f"{seconds / base:.2f} |"
            )


if __name__ == "__main__":
    main()
