"""Bad input, one table: each case is refused with a message naming the field and the fix, and
nothing is written (no Delta table, no MLflow store, no audit row except the refusal).

Four kinds of input: experiment spec files (read by the CLI), source data (ingested on Spark),
user SQL (`kind: query` sources, through the guard and the team grants) and CLI arguments.
Property-based tests of spec parsing and the SQL guard close the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aurora_pipelines.cli import main
from aurora_pipelines.errors import AuroraError
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.lake import delta
from aurora_pipelines.settings import DEFAULT_POLICY
from aurora_pipelines.sources.access import SourceAccess, load_data_access
from aurora_pipelines.sources.ingest import ingest_source
from aurora_pipelines.sources.sql_guard import QueryRefused, guard_query
from aurora_pipelines.specs import ExperimentSpec, SourceSpec
from tests.factories import BASE_SPEC, cli_error

POLICY_EXTRA = """
data_access:
  grants:
    risk: ["bad_input.*", "no_such_db.*", "people", "jdbc:*", "file:*"]
"""


@dataclass(frozen=True)
class Case:
    """One bad input and the fragments its refusal must contain (field, then fix)."""

    id: str
    kind: str  # spec | data | sql | cli
    value: Any
    expect: tuple[str, ...]
    extra: dict[str, Any] = field(default_factory=dict)


def _spec(**changes: Any) -> dict[str, Any]:
    """A valid spec as YAML data, with `changes` applied (None removes a field)."""
    spec: dict[str, Any] = {
        **BASE_SPEC,
        "name": "bad",
        "features": {"dbt_model": "bad_features"},
    }
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return spec


RISK = {"materiality": "high", "decision_automation": "automated", "regulatory_use": []}

SPEC_CASES = [
    Case("unknown-field", "spec", _spec(targte="x"), ("`targte`", "remove it or fix its spelling")),
    Case(
        "unknown-nested-field",
        "spec",
        _spec(training={"cv_fold": 3}),
        ("`training.cv_fold`", "remove it"),
    ),
    Case(
        "wrong-type",
        "spec",
        _spec(training={"cv_folds": "five"}),
        ("`training.cv_folds`", "integer", "fix the value"),
    ),
    Case(
        "missing-target",
        "spec",
        _spec(target=None),
        ("missing required field `target`", "problem_type clustering"),
    ),
    Case("missing-features", "spec", _spec(features=None), ("`features`", "add it")),
    Case(
        "problem-type-literal",
        "spec",
        _spec(problem_type="forecasting"),
        ("`problem_type`", "'classification'"),
    ),
    Case("bad-name", "spec", _spec(name="Bad-Name"), ("`name`", "lower_snake_case")),
    Case("name-not-file", "spec", _spec(name="other"), ("name `other`", "rename the file")),
    Case("not-yaml", "spec", "name: [unclosed", ("not valid YAML",)),
    Case("not-a-mapping", "spec", ["a", "list"], ("must be a YAML mapping",)),
    Case("csv-without-path", "spec", _spec(source={"kind": "csv"}), ("`source`", "needs `path:`")),
    Case(
        "table-without-table",
        "spec",
        _spec(source={"kind": "table"}),
        ("`source`", "`table: database.table`"),
    ),
    Case(
        "jdbc-without-url",
        "spec",
        _spec(source={"kind": "jdbc", "table": "t"}),
        ("`source`", "needs `url:` and `table:`"),
    ),
    Case(
        "query-without-sql",
        "spec",
        _spec(source={"kind": "query"}),
        ("`source`", "needs `sql:`"),
    ),
    Case(
        "csv-options-on-parquet",
        "spec",
        _spec(source={"kind": "parquet", "path": "x.parquet", "csv": {"delimiter": ";"}}),
        ("`source`", "apply only to a `csv` source"),
    ),
    Case(
        "source-kind-literal",
        "spec",
        _spec(source={"kind": "excel", "path": "x.xlsx"}),
        ("`source.kind`", "'table'"),
    ),
    Case(
        "two-char-delimiter",
        "spec",
        _spec(source={"kind": "csv", "path": "x.csv", "csv": {"delimiter": ";;"}}),
        ("`source.csv.delimiter`", "at most 1 character"),
    ),
    Case(
        "cv-folds-too-small",
        "spec",
        _spec(training={"cv_folds": 1}),
        ("`training.cv_folds`", "greater than or equal to 2"),
    ),
    Case(
        "empty-algorithms",
        "spec",
        _spec(training={"algorithms": []}),
        ("`training.algorithms`", "at least 1 item"),
    ),
    Case(
        "rows-and-fraction",
        "spec",
        _spec(profiling={"sampling": {"rows": 10, "fraction": 0.5}}),
        ("`profiling.sampling`", "give `rows` or `fraction`, not both"),
    ),
    Case(
        "drift-share-above-one",
        "spec",
        _spec(monitoring={"drift_share_max": 2}),
        ("`monitoring.drift_share_max`", "less than or equal to 1"),
    ),
    Case(
        "canary-steps-not-ending-at-one",
        "spec",
        _spec(deployment={"canary": {"steps": [0.1, 0.5]}}),
        ("`deployment.canary.steps`", "must end with 1.0"),
    ),
    Case(
        "half-answered-risk",
        "spec",
        _spec(governance={"risk": RISK}),
        ("`governance.risk.personal_data`", "add it"),
    ),
    Case(
        "decision-threshold-out-of-range",
        "spec",
        _spec(training={"decision_threshold": 1.5}),
        ("`training.decision_threshold`", "less than 1"),
    ),
]

ROLES = {"target": "default_flag", "id_column": "application_id", "time_column": "applied_at"}
GOOD = {
    "application_id": [1, 2, 3],
    "applied_at": ["2026-01-01", "2026-01-02", "2026-01-03"],
    "income": [1.0, 2.0, 3.0],
    "default_flag": [0, 1, 0],
}

DATA_CASES = [
    Case(
        "target-absent",
        "data",
        GOOD,
        ("target column 'nope' is not in source", "fix the spec's `target`"),
        {"roles": {**ROLES, "target": "nope"}},
    ),
    Case(
        "id-column-absent",
        "data",
        GOOD,
        ("id_column column 'row' is not in source", "fix the spec's `id_column`"),
        {"roles": {**ROLES, "id_column": "row"}},
    ),
    Case(
        "time-column-absent",
        "data",
        GOOD,
        ("time_column column 'ts' is not in source", "fix the spec's `time_column`"),
        {"roles": {**ROLES, "time_column": "ts"}},
    ),
    Case(
        "id-not-unique",
        "data",
        {**GOOD, "application_id": [1, 1, 2]},
        ("id_column 'application_id'", "not unique", "remove the duplicate rows"),
    ),
    Case(
        "time-unparsable",
        "data",
        {**GOOD, "applied_at": ["2026-01-01", "yesterday", "2026-01-03"]},
        ("time_column 'applied_at'", "'yesterday'", "ISO 8601"),
    ),
    Case("empty-table", "data", {k: [] for k in GOOD}, ("has no rows", "load the data first")),
    Case(
        "all-null-target",
        "data",
        {**GOOD, "default_flag": [None, None, None]},
        ("target column 'default_flag'", "null in every row", "fix the spec's `target`"),
    ),
    Case(
        "all-null-id",
        "data",
        {**GOOD, "application_id": [None, None, None]},
        ("id_column column 'application_id'", "null in every row"),
    ),
    Case(
        "non-utf8-csv",
        "data",
        b"application_id,applied_at,name,default_flag\n1,2026-01-01,Jos\xe9,0\n2,2026-01-02,A,1\n",
        ("not valid UTF-8", "name", "`source.csv: {encoding: ...}`"),
    ),
    Case(
        "unsupported-encoding",
        "data",
        GOOD,
        ("encoding 'EBCDIC'", "`source.csv: {encoding: ...}`"),
        {"csv": {"encoding": "EBCDIC"}},
    ),
    Case(
        "wrong-delimiter",
        "data",
        b"application_id;applied_at;default_flag\n1;2026-01-01;0\n",
        ("not ','-delimited", '`source.csv: {delimiter: ";"}`'),
    ),
    Case(
        "ten-thousand-columns",
        "data",
        {f"c{i}": [0, 1] for i in range(10_000)} | {"default_flag": [0, 1]},
        ("10001 columns", "`kind: query` source"),
        {"roles": {"target": "default_flag"}, "format": "parquet"},
    ),
    Case(
        "path-missing",
        "data",
        None,
        ("does not exist", "fix `source.path`"),
        {"source": {"kind": "csv", "path": "/nonexistent/aurora/x.csv"}},
    ),
    Case(
        "delta-path-not-delta",
        "data",
        None,
        ("is not a Delta table", "check `source.path`"),
        {"source": {"kind": "delta", "path": "{tmp}"}},
    ),
    Case(
        "catalog-database-missing",
        "data",
        None,
        ("catalog database 'no_such_db'", "point `source.table` at an existing table"),
        {"source": {"kind": "table", "table": "no_such_db.t"}},
    ),
    Case(
        "catalog-table-missing",
        "data",
        None,
        ("catalog table 'bad_input.missing'", "fix `source.table`"),
        {"source": {"kind": "table", "table": "bad_input.missing"}},
    ),
    Case(
        "unqualified-table",
        "data",
        None,
        ("catalog table 'people'", "database.table"),
        {"source": {"kind": "table", "table": "people"}},
    ),
    Case(
        "jdbc-password-env-unset",
        "data",
        None,
        ("AURORA_BAD_INPUT_PASSWORD (source.password_env)", "export the database password"),
        {
            "source": {
                "kind": "jdbc",
                "url": "jdbc:postgresql://127.0.0.1:1/x",
                "table": "t",
                "password_env": "AURORA_BAD_INPUT_PASSWORD",
            }
        },
    ),
]

SQL_CASES = [
    Case("sql-empty", "sql", "   ", ("the query is empty", "`source.sql`")),
    Case("sql-unparsable", "sql", "SELECT * FROM (", ("does not parse", "fix `source.sql`")),
    Case(
        "sql-two-statements",
        "sql",
        "SELECT 1 FROM bad_input.people; SELECT 2 FROM bad_input.people",
        ("2 statements", "exactly one SELECT"),
    ),
    Case(
        "sql-insert",
        "sql",
        "INSERT INTO bad_input.people SELECT * FROM bad_input.people",
        ("only a read-only SELECT", "INSERT"),
    ),
    Case("sql-drop", "sql", "DROP TABLE bad_input.people", ("only a read-only SELECT", "DROP")),
    Case(
        "sql-create-as-select",
        "sql",
        "CREATE TABLE bad_input.copy AS SELECT * FROM bad_input.people",
        ("only a read-only SELECT", "CREATE"),
    ),
    Case(
        "sql-delete",
        "sql",
        "DELETE FROM bad_input.people WHERE 1 = 1",
        ("only a read-only SELECT", "DELETE"),
    ),
    Case("sql-set", "sql", "SET spark.sql.ansi.enabled = false", ("only a read-only SELECT",)),
    Case(
        "sql-reflect",
        "sql",
        "SELECT reflect('java.lang.Runtime', 'getRuntime') FROM bad_input.people",
        ("function `reflect` is not allowed", "JVM"),
    ),
    Case(
        "sql-java-method",
        "sql",
        "SELECT java_method('java.lang.System', 'exit', 0) FROM bad_input.people",
        ("function `java_method` is not allowed",),
    ),
    Case(
        "sql-read-files",
        "sql",
        "SELECT * FROM bad_input.people WHERE read_files('/etc/passwd') IS NULL",
        ("function `read_files` is not allowed",),
    ),
    Case(
        "sql-table-valued-function",
        "sql",
        "SELECT * FROM range(10)",
        ("table-valued functions are not allowed",),
    ),
    Case("sql-no-table", "sql", "SELECT 1 AS one", ("reads no table", "governed catalog table")),
    Case(
        "sql-table-outside-grants",
        "sql",
        "SELECT * FROM secret_db.salaries",
        ("team 'risk' may not read secret_db.salaries", "ask an admin to add a grant"),
    ),
    Case(
        "sql-does-not-run",
        "sql",
        "SELECT no_such_column FROM bad_input.people",
        ("the query does not run", "fix `source.sql`"),
    ),
]

CLI_CASES = [
    Case("cli-unknown-option", "cli", ["experiments", "list", "--bogus"], ("No such option",)),
    Case("cli-unknown-command", "cli", ["experimentz"], ("No such command",)),
    Case("cli-missing-argument", "cli", ["approvals", "show"], ("Missing argument",)),
    Case("cli-bad-integer", "cli", ["approvals", "show", "x"], ("Invalid value",)),
    Case(
        "cli-missing-required-option",
        "cli",
        ["experiments", "create", "e"],
        ("Missing option",),
    ),
]

CASES = SPEC_CASES + DATA_CASES + SQL_CASES + CLI_CASES


def test_the_table_holds_forty_cases_or_more():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


def _assert_names_field_and_fix(message: str, case: Case) -> None:
    for fragment in case.expect:
        assert fragment in message, f"{case.id}: {fragment!r} not in {message!r}"


def _nothing_written(root: Path) -> None:
    """No lake, MLflow store, Delta table or audit row (but a refusal) came out of the input."""
    for name in ("lake", "mlruns", "mlflow.db", "mlartifacts"):
        assert not (root / name).exists(), f"{name} written under {root}"
    governance = root / "governance.db"
    if governance.exists():  # the only audit row a refusal may leave is the refusal itself
        store = GovernanceStore(f"sqlite:///{governance}", load_policy(DEFAULT_POLICY))
        events = {row["event"] for row in store.read_audit()}
        store.dispose()
        assert events <= {"access_denied"}, f"audit rows {events} written under {root}"


@pytest.mark.parametrize("case", SPEC_CASES, ids=lambda c: c.id)
def test_bad_spec_is_refused_with_the_field_and_the_fix(case, home, capsys):
    home.experiments_dir.mkdir(parents=True)
    path = home.experiments_dir / "bad.yaml"
    path.write_text(case.value if isinstance(case.value, str) else yaml.safe_dump(case.value))
    err = cli_error(capsys, "experiments", "list")
    assert str(path) in err
    _assert_names_field_and_fix(err, case)
    _nothing_written(home.root)


@pytest.fixture(scope="module")
def governed(spark, tmp_path_factory):
    """A governance store whose policy grants team risk `bad_input.*` and files, and a table."""
    root = tmp_path_factory.mktemp("bad_input")
    policy = root / "policy.yaml"
    policy.write_text(DEFAULT_POLICY.read_text().split("\ndata_access:")[0] + POLICY_EXTRA)
    spark.sql("CREATE DATABASE IF NOT EXISTS bad_input")
    people = pd.DataFrame(GOOD)
    spark.createDataFrame(people).write.mode("overwrite").saveAsTable("bad_input.people")
    store = GovernanceStore(f"sqlite:///{root / 'gov.db'}", load_policy(policy))
    yield store, policy
    store.dispose()


def _access(governed) -> SourceAccess:
    store, policy = governed
    return SourceAccess(
        policy=load_data_access(policy), team="risk", actor="ds_alice", audit=store.audit
    )


def _audit_seq(store: GovernanceStore) -> int:
    rows = store.read_audit()
    return max((r["seq"] for r in rows), default=0)


def _new_audit_events(store: GovernanceStore, after: int) -> list[str]:
    return [r["event"] for r in store.read_audit() if r["seq"] > after]


def _source_for(case: Case, tmp_path: Path) -> SourceSpec:
    if "source" in case.extra:
        fields = {
            k: str(v).replace("{tmp}", str(tmp_path)) for k, v in case.extra["source"].items()
        }
        return SourceSpec.model_validate(fields)
    if case.extra.get("format") == "parquet":
        path = tmp_path / "source.parquet"
        pd.DataFrame(case.value).to_parquet(path)
        return SourceSpec(kind="parquet", path=str(path))
    path = tmp_path / "source.csv"
    if isinstance(case.value, bytes):
        path.write_bytes(case.value)
    else:
        pd.DataFrame(case.value).to_csv(path, index=False)
    return SourceSpec(kind="csv", path=str(path), csv=case.extra.get("csv"))


@pytest.mark.parametrize("case", DATA_CASES, ids=lambda c: c.id)
def test_bad_data_is_refused_before_anything_is_committed(case, spark, governed, tmp_path):
    store = governed[0]
    source = _source_for(case, tmp_path)
    dest = tmp_path / "lake" / "raw"
    before = _audit_seq(store)
    with pytest.raises(AuroraError) as exc:
        ingest_source(spark, source, dest, case.extra.get("roles", ROLES), access=_access(governed))
    _assert_names_field_and_fix(str(exc.value), case)
    assert not delta.is_delta_table(dest) and not dest.exists()
    assert _new_audit_events(store, before) == []


@pytest.mark.parametrize("case", SQL_CASES, ids=lambda c: c.id)
def test_bad_query_is_refused_and_only_the_refusal_is_audited(case, spark, governed, tmp_path):
    store = governed[0]
    dest = tmp_path / "lake" / "raw"
    before = _audit_seq(store)
    with pytest.raises(AuroraError) as exc:
        ingest_source(
            spark,
            SourceSpec(kind="query", sql=case.value),
            dest,
            {"target": "default_flag"},
            access=_access(governed),
        )
    _assert_names_field_and_fix(str(exc.value), case)
    assert not dest.exists()
    # A guard refusal or a missing grant is audited (once per refused resource); a query that
    # passes both and fails in Spark's analyzer wrote nothing to audit.
    assert set(_new_audit_events(store, before)) <= {"access_denied"}


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.id)
def test_bad_cli_arguments_print_a_usage_line_and_exit_2(case, home, capsys):
    with pytest.raises(SystemExit) as exc:
        main(list(case.value))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: aurora") and "Traceback" not in err
    _assert_names_field_and_fix(err, case)
    _nothing_written(home.root)


def _command_paths() -> list[list[str]]:
    """Every command group and command of `aurora`, e.g. ["runs"], ["runs", "cancel"]."""
    import typer

    from aurora_pipelines.cli import app

    def walk(command: Any, path: list[str]) -> list[list[str]]:
        subs = getattr(command, "commands", None) or {}
        found = [p for name, sub in sorted(subs.items()) for p in walk(sub, [*path, name])]
        return [*found, path] if path else found

    return walk(typer.main.get_command(app), [])


COMMAND_PATHS = _command_paths()


def test_every_command_group_is_covered_by_the_unknown_option_case():
    groups = {path[0] for path in COMMAND_PATHS}
    assert {"experiments", "approvals", "audit", "deploy", "models", "runs", "queries"} <= groups
    assert len(COMMAND_PATHS) >= 50


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=" ".join)
def test_an_unknown_option_on_any_command_prints_its_usage_and_exits_2(path, home, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*path, "--bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Usage: aurora {' '.join(path)}") and "Traceback" not in err
    assert "No such option: --bogus" in err and "--help" in err
    _nothing_written(home.root)


def test_a_column_named_like_a_sql_keyword_is_ingested_as_it_is(spark, governed, tmp_path):
    frame = pd.DataFrame({"select": [1, 2], "from": ["a", "b"], "order": [0, 1]})
    path = tmp_path / "keywords.csv"
    frame.to_csv(path, index=False)
    dest = tmp_path / "raw"
    result = ingest_source(
        spark,
        SourceSpec(kind="csv", path=str(path)),
        dest,
        {"target": "order", "id_column": "select"},
        access=_access(governed),
    )
    assert result.rows == 2
    assert list(delta.read_pandas(dest).columns) == ["select", "from", "order"]


# --- properties -------------------------------------------------------------------------

FIELDS = set(ExperimentSpec.model_fields)
identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(extra=identifiers.filter(lambda name: name not in FIELDS), value=st.integers())
def test_any_unknown_top_level_field_is_named_in_the_refusal(extra, value, tmp_path_factory):
    from aurora_pipelines.errors import SpecError
    from aurora_pipelines.specs import load_spec

    path = tmp_path_factory.mktemp("prop") / "bad.yaml"
    path.write_text(yaml.safe_dump(_spec(**{extra: value})))
    with pytest.raises(SpecError) as exc:
        load_spec(path)
    assert f"unknown field `{extra}`" in str(exc.value)


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(section=st.sampled_from(sorted(FIELDS)), value=yaml_values)
def test_spec_parsing_either_validates_or_raises_a_spec_error(section, value, tmp_path_factory):
    """Whatever a field holds, loading a spec gives a spec or one SpecError, never a crash."""
    from aurora_pipelines.errors import SpecError
    from aurora_pipelines.specs import load_spec

    path = tmp_path_factory.mktemp("prop") / "bad.yaml"
    path.write_text(yaml.safe_dump(_spec(**{section: value}) if value is not None else _spec()))
    try:
        spec = load_spec(path)
    except SpecError as exc:
        assert str(exc).startswith(f"experiment spec {path}")
    else:
        assert spec.name == "bad"


WRITES = st.sampled_from(
    [
        "INSERT INTO t SELECT 1",
        "DROP TABLE t",
        "DELETE FROM t",
        "CREATE TABLE t AS SELECT 1",
        "TRUNCATE TABLE t",
        "SET a = b",
    ]
)


@settings(max_examples=80, deadline=None)
@given(write=WRITES, prefix=st.sampled_from(["", "SELECT 1 FROM db.t; ", "  \n"]))
def test_the_sql_guard_never_accepts_a_write(write, prefix):
    with pytest.raises(QueryRefused):
        guard_query(prefix + write)


@settings(max_examples=80, deadline=None)
@given(text=st.text(max_size=60))
def test_the_sql_guard_accepts_only_single_selects_reading_a_table(text):
    """For any text: a QueryRefused, or one query that reads at least one named table."""
    try:
        guarded = guard_query(text)
    except QueryRefused:
        return
    assert guarded.tables and all("." in t for t in guarded.tables)


@settings(max_examples=40, deadline=None)
@given(database=identifiers, table=identifiers, column=identifiers)
def test_the_sql_guard_names_every_table_a_select_reads(database, table, column):
    sql = f"SELECT `{column}` FROM `{database}`.`{table}` JOIN other_db.x ON 1 = 1"
    assert guard_query(sql).tables == sorted({f"{database}.{table}", "other_db.x"})
