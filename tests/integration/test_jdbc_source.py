"""JDBC sources against a real PostgreSQL (started by .ci/run, or here by .ci/postgres.sh)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from aurora_pipelines.errors import SourceError
from aurora_pipelines.lake import delta
from aurora_pipelines.settings import REPO_DIR
from aurora_pipelines.sources.access import AccessDenied, DataAccessPolicy, SourceAccess
from aurora_pipelines.sources.ingest import ingest_source
from aurora_pipelines.specs import SourceSpec

PASSWORD_ENV = "AURORA_TEST_JDBC_PASSWORD"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres() -> Iterator[dict[str, str]]:
    """Connection settings of a running server: the CI one, or a private one for this module."""
    if os.environ.get("AURORA_TEST_POSTGRES_URL"):
        yield {
            "url": os.environ["AURORA_TEST_POSTGRES_URL"],
            "user": os.environ.get("AURORA_TEST_POSTGRES_USER", "aurora"),
            "password": os.environ.get("AURORA_TEST_POSTGRES_PASSWORD", "aurora"),
        }
        return
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        pytest.skip("no PostgreSQL binaries (apt-get install postgresql); .ci/run installs them")
    port = str(_free_port())
    data = f"/tmp/aurora-postgres-test-{port}"
    env = {**os.environ, "AURORA_PG_PORT": port, "AURORA_PG_DATA": data}
    script = str(REPO_DIR / ".ci" / "postgres.sh")
    out = subprocess.run(["bash", script], env=env, check=True, capture_output=True, text=True)
    settings = dict(
        line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines() if line
    )
    try:
        yield {
            "url": settings["AURORA_TEST_POSTGRES_URL"],
            "user": settings["AURORA_TEST_POSTGRES_USER"],
            "password": settings["AURORA_TEST_POSTGRES_PASSWORD"],
        }
    finally:
        subprocess.run(["bash", script, "stop"], env=env, check=False, capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def _psql(pg: dict[str, str], sql: str) -> None:
    parsed = urlparse(pg["url"].removeprefix("jdbc:"))
    psql = shutil.which("psql") or sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))[-1]
    subprocess.run(
        [psql, "-h", parsed.hostname, "-p", str(parsed.port), "-U", pg["user"], "-v"]
        + ["ON_ERROR_STOP=1", "-q", "-d", parsed.path.strip("/"), "-c", sql],
        env={**os.environ, "PGPASSWORD": pg["password"]},
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def loans(postgres) -> SourceSpec:
    _psql(
        postgres,
        "DROP TABLE IF EXISTS loans; "
        "CREATE TABLE loans (loan_id int PRIMARY KEY, amount numeric(10,2), region text, "
        "email text, opened date, defaulted boolean); "
        "INSERT INTO loans SELECT g, g * 10.5, (ARRAY['north','south','east'])[g % 3 + 1], "
        "'user' || g || '@bank.test', DATE '2024-01-01' + g, g % 7 = 0 "
        "FROM generate_series(1, 500) g;",
    )
    return SourceSpec(
        kind="jdbc",
        url=postgres["url"],
        table="public.loans",
        user=postgres["user"],
        password_env=PASSWORD_ENV,
    )


def _access(grants: list[str]) -> SourceAccess:
    policy = DataAccessPolicy.model_validate(
        {"grants": {"risk": grants}, "pii": [{"column": "email", "action": "drop"}]}
    )
    return SourceAccess(policy=policy, team="risk", actor="ds_alice")


def test_jdbc_table_is_ingested_into_delta_with_pii_dropped(
    spark, loans, postgres, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv(PASSWORD_ENV, postgres["password"])
    database = urlparse(postgres["url"].removeprefix("jdbc:")).path.strip("/")
    result = ingest_source(
        spark,
        loans,
        tmp_path / "raw",
        {"target": "defaulted", "id_column": "loan_id"},
        access=_access([f"jdbc:{database}.public.*"]),
    )
    frame = delta.read_pandas(tmp_path / "raw").sort_values("loan_id")
    assert result.rows == 500 and len(frame) == 500
    assert result.resources == [f"jdbc:{database}.public.loans"]
    assert "email" not in frame.columns
    assert float(frame["amount"].iloc[0]) == 10.5 and int(frame["defaulted"].sum()) == 71
    assert dict(result.columns)["opened"] == "date"


def test_jdbc_table_outside_the_grants_is_refused(spark, loans, postgres, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, postgres["password"])
    with pytest.raises(AccessDenied, match=r"may not read jdbc:.*\.public\.loans"):
        _access(["raw_sources.*"]).read(spark, loans)


def test_wrong_jdbc_password_is_a_source_error(spark, loans, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    with pytest.raises(SourceError, match="cannot be read: .*password"):
        _access(["jdbc:*"]).read(spark, loans)


def test_missing_password_variable_is_named(spark, loans, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(SourceError, match=f"{PASSWORD_ENV} .* is not set"):
        _access(["jdbc:*"]).read(spark, loans)
