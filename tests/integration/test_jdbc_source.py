"""JDBC sources against a real PostgreSQL (the one .ci/run starts, or a throwaway cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from aurora_pipelines.errors import SourceError
from aurora_pipelines.lake import delta
from aurora_pipelines.sources.access import AccessDenied, DataAccessPolicy, SourceAccess
from aurora_pipelines.sources.ingest import ingest_source
from aurora_pipelines.specs import SourceSpec
from tests.postgres import fresh_database, postgres_server, unavailable_reason

PASSWORD_ENV = "AURORA_TEST_JDBC_PASSWORD"

pytestmark = pytest.mark.skipif(
    unavailable_reason() is not None, reason=unavailable_reason() or "PostgreSQL available"
)


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with postgres_server() as admin_url, fresh_database(admin_url) as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TABLE loans (loan_id int PRIMARY KEY, amount numeric(10,2), "
                "region text, email text, opened date, defaulted boolean); "
                "INSERT INTO loans SELECT g, g * 10.5, "
                "(ARRAY['north','south','east'])[mod(g, 3) + 1], 'user' || g || '@bank.test', "
                "DATE '2024-01-01' + g, mod(g, 7) = 0 FROM generate_series(1, 500) g"
            )
        engine.dispose()
        yield url


@pytest.fixture
def loans(database_url: str, monkeypatch: pytest.MonkeyPatch) -> SourceSpec:
    url = make_url(database_url)
    monkeypatch.setenv(PASSWORD_ENV, url.password or "")
    return SourceSpec(
        kind="jdbc",
        url=f"jdbc:postgresql://{url.host}:{url.port}/{url.database}",
        table="public.loans",
        user=url.username,
        password_env=PASSWORD_ENV,
    )


def _access(grants: list[str]) -> SourceAccess:
    policy = DataAccessPolicy.model_validate(
        {"grants": {"risk": grants}, "pii": [{"column": "email", "action": "drop"}]}
    )
    return SourceAccess(policy=policy, team="risk", actor="ds_alice")


def test_jdbc_table_is_ingested_into_delta_with_pii_dropped(spark, loans, tmp_path: Path):
    database = loans.url.rsplit("/", 1)[-1]
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


def test_jdbc_table_outside_the_grants_is_refused(spark, loans):
    with pytest.raises(AccessDenied, match=r"may not read jdbc:.*\.public\.loans"):
        _access(["raw_sources.*"]).read(spark, loans)


def test_unknown_jdbc_table_is_a_source_error(spark, loans):
    missing = loans.model_copy(update={"table": "public.no_such_table"})
    with pytest.raises(SourceError, match="cannot be read: .*no_such_table"):
        _access(["jdbc:*"]).read(spark, missing)


def test_missing_password_variable_is_named(spark, loans, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(SourceError, match=f"{PASSWORD_ENV} .* is not set"):
        _access(["jdbc:*"]).read(spark, loans)
