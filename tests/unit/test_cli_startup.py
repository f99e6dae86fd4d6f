"""`aurora --help` and the read-only commands stay fast: no heavy library is imported.

A behavioural guard, not a timing: the probe runs the command in a fresh interpreter and lists
which heavy modules ended up in `sys.modules`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from aurora_pipelines.settings import REPO_DIR
from tests.factories import governance_store

HEAVY = (
    "pandas",
    "numpy",
    "pyarrow",
    "mlflow",
    "pyspark",
    "sqlalchemy",
    "dagster",
    "sklearn",
    "deltalake",
    "pydantic_settings",
)
DIGEST = "ab" * 32


def _run_probe(args: list[str], env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """(heavy modules imported, stdout) of `aurora ARGS` in a fresh interpreter."""
    probe = (
        "import sys\n"
        "from aurora_pipelines.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_DIR,
        env={**os.environ, **(env or {})},
    )
    *output, last = done.stdout.rstrip("\n").split("\n")
    assert last.startswith("HEAVY "), done.stdout
    return eval(last.removeprefix("HEAVY ")), "\n".join(output)  # noqa: S307 (our own print)


def test_aurora_help_imports_no_pandas_mlflow_spark_sqlalchemy_or_dagster(tmp_path: Path):
    heavy, _ = _run_probe(["--help"], {"AURORA_HOME": str(tmp_path)})
    assert heavy == []


def test_approvals_list_on_sqlite_reads_without_sqlalchemy_and_lists_as_the_store(
    tmp_path: Path,
):
    url = f"sqlite:///{tmp_path / 'gov.db'}"
    store = governance_store(url)
    first = store.request_approval("credit", "production", "credit", "1", DIGEST, "ds_alice")
    store.decide(first.id, "approve", "mrm_carol", "ok")
    store.request_approval("churn", "production", "churn", "3", DIGEST, "ds_alice")
    expected = [r.to_dict() for r in store.list_requests()]
    store.dispose()
    env = {"AURORA_HOME": str(tmp_path), "AURORA_GOVERNANCE_URL": url}

    heavy, out = _run_probe(["approvals", "list", "--json"], env)

    assert heavy == []
    assert json.loads(out) == expected
    assert [r["status"] for r in expected] == ["approved", "pending"]


def test_approvals_list_lets_the_store_expire_a_pending_request_of_an_expiring_gate(
    tmp_path: Path,
):
    url = f"sqlite:///{tmp_path / 'gov.db'}"
    store = governance_store(url)
    pending = store.request_approval(
        "credit", "staging", "credit", "1", DIGEST, "ds_alice", tier="high"
    )
    store.dispose()
    # Back-date it past the high tier's staging limit (72 h): only the store expires (and audits).
    with sqlite3.connect(tmp_path / "gov.db") as conn:
        conn.execute(
            "UPDATE approval_requests SET requested_at = '2020-01-01 00:00:00.000000' WHERE id = ?",
            [pending.id],
        )
    env = {"AURORA_HOME": str(tmp_path), "AURORA_GOVERNANCE_URL": url}

    _, out = _run_probe(["approvals", "list", "--json"], env)

    assert [r["status"] for r in json.loads(out)] == ["expired"]
