"""Team grants, PII handling, the user-query guard and CSV bad input, on real Spark tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from aurora_pipelines.errors import GovernanceError, SourceError
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.lake import delta
from aurora_pipelines.settings import DEFAULT_POLICY, Settings
from aurora_pipelines.sources.access import (
    AccessDenied,
    DataAccessPolicy,
    SourceAccess,
    load_data_access,
    pii_key,
)
from aurora_pipelines.sources.ingest import ingest_source
from aurora_pipelines.sources.readers import read_source
from aurora_pipelines.sources.sql_guard import QueryRefused, guard_query
from aurora_pipelines.specs import CsvOptions, SourceSpec

POLICY_EXTRA = """
data_access:
  grants:
    risk: ["acl_open.*", "file:*"]
    platform: ["*"]
  pii:
    - {table: "*", column: email, action: drop}
    - {table: "acl_open.*", column: national_id, action: mask}
"""


@pytest.fixture(scope="module")
def tables(spark):
    people = pd.DataFrame(
        {
            "person_id": [1, 2, 3, 4],
            "email": ["a@x.io", "b@x.io", "c@x.io", None],
            "national_id": ["111", "222", "333", None],
            "income": [10.0, 20.0, 30.0, 40.0],
        }
    )
    for db in ("acl_open", "acl_secret"):
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {db}")
    spark.createDataFrame(people).write.mode("overwrite").saveAsTable("acl_open.people")
    spark.createDataFrame(people).write.mode("overwrite").saveAsTable("acl_secret.salaries")
    return people


@pytest.fixture
def store(tmp_path: Path) -> GovernanceStore:
    policy_path = tmp_path / "policy.yaml"
    policy_path.write_text(DEFAULT_POLICY.read_text().split("\ndata_access:")[0] + POLICY_EXTRA)
    return GovernanceStore(f"sqlite:///{tmp_path / 'gov.db'}", load_policy(policy_path))


@pytest.fixture
def access(store: GovernanceStore, tmp_path: Path) -> SourceAccess:
    return SourceAccess(
        policy=load_data_access(tmp_path / "policy.yaml"),
        team="risk",
        actor="ds_alice",
        audit=store.audit,
        experiment="acl_demo",
    )


def _denials(store: GovernanceStore) -> list[dict]:
    return store.read_audit(event="access_denied")


def test_table_outside_the_teams_grants_is_refused_and_audited(spark, tables, access, store):
    with pytest.raises(AccessDenied, match=r"team 'risk' may not read acl_secret\.salaries"):
        access.read(spark, SourceSpec(kind="table", table="acl_secret.salaries"))
    (row,) = _denials(store)
    assert row["actor"] == "ds_alice" and row["target"] == "acl_secret.salaries"
    assert row["details"]["team"] == "risk" and row["details"]["experiment"] == "acl_demo"
    assert store.verify_audit().ok


def test_granted_table_is_read_with_pii_dropped_and_masked(spark, tables, access):
    governed = access.read(spark, SourceSpec(kind="table", table="acl_open.people"))
    frame = governed.df.toPandas().sort_values("person_id")
    assert "email" not in frame.columns
    assert governed.pii == {"email": "drop", "national_id": "mask"}
    # Masked: a SHA-256 digest, stable (joins still work), never the value; nulls stay null.
    assert frame["national_id"].iloc[0] != "111" and len(frame["national_id"].iloc[0]) == 64
    assert frame["national_id"].isna().sum() == 1
    assert frame["income"].tolist() == [10.0, 20.0, 30.0, 40.0]


def test_ingest_writes_only_what_the_team_may_see(spark, tables, access, tmp_path):
    dest = tmp_path / "raw"
    result = ingest_source(
        spark,
        SourceSpec(kind="table", table="acl_open.people"),
        dest,
        {"target": "income"},
        access=access,
    )
    assert result.rows == 4 and "email" not in delta.read_pandas(dest).columns
    assert result.pii["email"] == "drop"


def test_ingest_stamps_the_source_fingerprint_it_read(spark, settings, tables, access, tmp_path):
    from aurora_pipelines.sources.fingerprint import ingested_fingerprint, source_fingerprint

    source, dest = SourceSpec(kind="table", table="acl_open.people"), tmp_path / "raw"
    ingest_source(spark, source, dest, {"target": "income"}, access=access, settings=settings)
    # What the new-data sensor compares the source with on its next tick.
    expected = source_fingerprint(source, settings)
    assert expected is not None and ingested_fingerprint(dest) == expected


def test_denied_ingest_leaves_no_delta_table(spark, tables, access, tmp_path):
    dest = tmp_path / "raw"
    with pytest.raises(AccessDenied):
        ingest_source(
            spark,
            SourceSpec(kind="table", table="acl_secret.salaries"),
            dest,
            {"target": "income"},
            access=access,
        )
    assert not delta.is_delta_table(dest)


def test_target_that_is_dropped_pii_is_named(spark, tables, access, tmp_path):
    with pytest.raises(SourceError, match="target column 'email' .* is PII and dropped"):
        ingest_source(
            spark,
            SourceSpec(kind="table", table="acl_open.people"),
            tmp_path / "raw",
            {"target": "email"},
            access=access,
        )


def test_user_query_runs_over_masked_views(spark, tables, access):
    sql = (
        "SELECT p.person_id, p.national_id, p.income * 2 AS doubled "
        "FROM acl_open.people p WHERE p.income > 15"
    )
    governed = access.read(spark, SourceSpec(kind="query", sql=sql))
    frame = governed.df.toPandas().sort_values("person_id")
    assert frame["doubled"].tolist() == [40.0, 60.0, 80.0]
    assert "222" not in frame["national_id"].tolist()  # masked inside the query, too
    assert governed.resources == ["acl_open.people"]


def test_user_query_cannot_select_a_dropped_pii_column(spark, tables, access):
    with pytest.raises(QueryRefused, match="does not run"):
        access.read(spark, SourceSpec(kind="query", sql="SELECT email FROM acl_open.people"))


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DROP TABLE acl_open.people", "got DROP"),
        ("INSERT INTO acl_open.people SELECT * FROM acl_open.people", "got INSERT"),
        ("SELECT * FROM acl_open.people; DELETE FROM acl_open.people", r"2 statements"),
        ("SELECT * INTO acl_open.copy FROM acl_open.people", "contains INTO"),
        ("SELECT reflect('java.lang.System', 'exit', 1) FROM acl_open.people", "`reflect`"),
        ("SELECT * FROM range(10)", "table-valued"),
        ("SELEC * FROM acl_open.people", "does not parse"),
    ],
)
def test_query_guard_refuses_anything_but_one_select(sql, message):
    with pytest.raises(QueryRefused, match=message):
        guard_query(sql)


def test_query_guard_lists_tables_and_ignores_ctes():
    guarded = guard_query(
        "WITH recent AS (SELECT * FROM acl_open.people WHERE income > 1) "
        "SELECT * FROM recent JOIN acl_secret.salaries s USING (person_id) JOIN lookup l"
    )
    assert guarded.tables == ["acl_open.people", "acl_secret.salaries", "default.lookup"]


def test_query_over_an_ungranted_table_names_it_and_is_audited(spark, tables, access, store):
    sql = "SELECT * FROM acl_open.people JOIN acl_secret.salaries USING (person_id)"
    with pytest.raises(AccessDenied, match=r"may not read acl_secret\.salaries \(") as exc:
        access.read(spark, SourceSpec(kind="query", sql=sql))
    assert "acl_open.people" not in str(exc.value).split("(")[0]
    assert [r["target"] for r in _denials(store)] == ["acl_secret.salaries"]


def test_refused_query_is_audited(spark, access, store):
    with pytest.raises(QueryRefused):
        access.read(spark, SourceSpec(kind="query", sql="DROP TABLE acl_open.people"))
    (row,) = _denials(store)
    assert row["target"] == "query" and "DROP" in row["details"]["reason"]


def test_policy_without_data_access_grants_nothing(spark, tables, store):
    access = SourceAccess(policy=DataAccessPolicy(), team="risk", actor="x", audit=store.audit)
    with pytest.raises(AccessDenied, match="data_access.grants.risk"):
        access.authorize(SourceSpec(kind="table", table="acl_open.people"))


def test_grant_to_an_unknown_team_is_a_policy_error(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(
        DEFAULT_POLICY.read_text().split("\ndata_access:")[0]
        + "\ndata_access:\n  grants:\n    riks: ['*']\n"
    )
    with pytest.raises(GovernanceError, match="unknown team.*riks"):
        load_data_access(path)
    load_policy(path)  # the approvals policy still loads: the section is additive


def test_shipped_policy_grants_the_demo_team_its_sources():
    policy = load_data_access(DEFAULT_POLICY)
    assert policy.may_read("risk", "raw_sources.credit_applications")
    assert not policy.may_read("model_risk", "file:/tmp/x.csv")


def test_csv_with_the_wrong_delimiter_suggests_the_right_one(spark, tmp_path):
    path = tmp_path / "semi.csv"
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}).to_csv(path, sep=";", index=False)
    with pytest.raises(SourceError, match=r"contains ';'.*delimiter: \";\""):
        read_source(spark, SourceSpec(kind="csv", path=str(path)))
    df = read_source(spark, SourceSpec(kind="csv", path=str(path), csv=CsvOptions(delimiter=";")))
    assert df.columns == ["a", "b"]


def test_csv_with_the_wrong_encoding_asks_for_the_encoding(spark, tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("city,n\nZürich,1\nMálaga,2\n".encode("latin-1"))
    with pytest.raises(SourceError, match="not valid UTF-8.*encoding"):
        read_source(spark, SourceSpec(kind="csv", path=str(path)))
    df = read_source(
        spark, SourceSpec(kind="csv", path=str(path), csv=CsvOptions(encoding="latin1"))
    )
    assert sorted(r.city for r in df.collect()) == ["Málaga", "Zürich"]


def test_csv_options_only_on_csv_sources():
    with pytest.raises(ValueError, match="only to a `csv` source"):
        SourceSpec(kind="parquet", path="/x", csv=CsvOptions())


def test_pii_is_masked_with_a_keyed_hash(spark, tables, store, tmp_path):
    import hashlib
    import hmac

    settings = Settings(home=tmp_path / "home")
    key = pii_key(settings)
    assert len(key) == 64 and pii_key(settings) == key  # created once, then reused
    assert (tmp_path / "home" / "pii.key").stat().st_mode & 0o077 == 0  # owner only
    policy = load_data_access(tmp_path / "policy.yaml")

    def masked(with_key: str) -> list[str]:
        access = SourceAccess(policy=policy, team="risk", actor="ds_alice", pii_key=with_key)
        frame = access.read(spark, SourceSpec(kind="table", table="acl_open.people")).df
        return [r.national_id for r in frame.orderBy("person_id").collect()]

    values = masked(key)
    expected = hmac.new(key.encode(), b"111", hashlib.sha256).hexdigest()
    assert values[0] == expected  # HMAC-SHA256, RFC 2104
    assert values[0] != hashlib.sha256(b"111").hexdigest()  # not the guessable plain hash
    assert values[3] is None
    assert masked("another key")[0] != expected
    assert Settings(home=tmp_path / "home", pii_key="from-env").pii_key == "from-env"


def test_the_caller_must_belong_to_the_specs_team(store, tmp_path):
    def as_user(user: str | None) -> SourceAccess:
        settings = Settings(home=tmp_path / "home", policy=tmp_path / "policy.yaml", user=user)
        return SourceAccess.from_settings(settings, "risk", experiment="acl_demo")

    assert as_user("ds_alice").actor == "ds_alice"  # a member of risk
    assert as_user("admin_erin").team == "risk"  # admins may act for any team
    assert as_user(None).actor == "team:risk"  # the pipeline itself, no caller named
    with pytest.raises(AccessDenied, match=r"'mrm_carol' is in team 'model_risk', not 'risk'"):
        as_user("mrm_carol")
    with pytest.raises(AccessDenied, match=r"unknown identity 'mallory'.*AURORA_USER"):
        as_user("mallory")
    audited = GovernanceStore(
        f"sqlite:///{tmp_path / 'home' / 'governance.db'}", load_policy(tmp_path / "policy.yaml")
    ).read_audit(event="access_denied")
    assert [(r["actor"], r["target"]) for r in audited] == [
        ("mrm_carol", "team:risk"),
        ("mallory", "team:risk"),
    ]
