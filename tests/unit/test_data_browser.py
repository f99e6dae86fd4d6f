"""Self-service data access: browse what the team may read, query it guarded, paged, audited."""

from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from aurora_pipelines.errors import NotFound
from aurora_pipelines.governance.store import GovernanceStore
from aurora_pipelines.sources.access import AccessDenied, pii_key
from aurora_pipelines.sources.browse import DataBrowser
from aurora_pipelines.sources.query_engine import QueryLimits, QueryTimeout, sql_hash
from aurora_pipelines.sources.query_params import ParameterError
from aurora_pipelines.sources.sql_guard import QueryRefused
from tests.factories import customers_frame, write_catalog_table

CUSTOMERS = "raw_sources.customers"


@pytest.fixture
def world(home):
    """ds_alice (team risk: raw_sources.*) and validator_bob (team model_risk) over three tables:
    customers, a day-partitioned events table, and hr.salaries nobody in risk may read."""
    write_catalog_table(home, CUSTOMERS, customers_frame())
    events = pd.DataFrame({"id": [1, 2, 3, 4], "day": ["2026-12-01"] * 2 + ["2026-12-02"] * 2})
    write_catalog_table(home, "raw_sources.events", events, partition_by="day")
    write_catalog_table(home, "hr.salaries", pd.DataFrame({"id": [1], "salary": [9.0]}))
    store = GovernanceStore.from_settings(home)
    yield lambda user="ds_alice", **kw: DataBrowser(home, store, user, **kw)
    store.dispose()


def _audit(browser: DataBrowser, event: str) -> list[dict]:
    return browser.store.read_audit(event=event)


def test_only_granted_tables_are_listed_and_shown_with_pii_rules(world) -> None:
    alice = world()
    assert [s.name for s in alice.list_sources()] == [CUSTOMERS, "raw_sources.events"]
    assert alice.list_sources("hr") == []
    detail = alice.show_source(CUSTOMERS)
    assert detail.rows == 250 and detail.teams == ["risk"]
    assert {c.name: (c.type, c.pii) for c in detail.columns} == {
        "id": ("BIGINT", None),
        "email": ("VARCHAR", "drop"),
        "national_id": ("VARCHAR", "mask"),
        "income": ("DOUBLE", None),
    }
    assert alice.show_source("raw_sources.events").partition_columns == ["day"]
    with pytest.raises(AccessDenied, match="may not read hr.salaries"):
        alice.show_source("hr.salaries")
    assert _audit(alice, "access_denied")[-1]["target"] == "hr.salaries"


def test_pages_are_cut_server_side_audited_and_past_the_end_empty(world) -> None:
    alice = world()
    sql = "SELECT id, income FROM raw_sources.customers ORDER BY id"
    first = alice.run_query(sql, page=1, limit=100)
    assert [r[0] for r in first.page.rows] == list(range(100)) and first.page.has_more
    last = alice.run_query(sql, page=3, limit=100)
    assert last.page.row_count == 50 and not last.page.has_more
    past = alice.run_query(sql, page=9, limit=100)
    assert past.page.rows == [] and past.as_json()["next_page"] is None
    audited = _audit(alice, "query_run")
    assert [a["details"]["rows"] for a in audited] == [100, 50, 0]
    assert audited[0]["details"]["sql_sha256"] == sql_hash(sql) == first.sql_hash
    assert [h.row_count for h in alice.history(last=2)] == [0, 50]
    with pytest.raises(QueryRefused, match="row cap of 1,000"):
        world(limits=QueryLimits(row_cap=1000)).run_query(sql, page=11, limit=100)
    with pytest.raises(QueryRefused, match="1 to 1000"):
        alice.run_query(sql, limit=5000)


def test_pii_is_masked_with_the_key_and_dropped_columns_cannot_be_selected(world, home) -> None:
    alice = world()
    row = alice.run_query("SELECT * FROM raw_sources.customers WHERE id = 7").page
    assert [c for c, _ in row.columns] == ["id", "national_id", "income"]
    expected = hmac.new(pii_key(home).encode(), b"NID-00007", hashlib.sha256).hexdigest()
    assert row.rows == [[7, expected, 1070.0]]
    with pytest.raises(QueryRefused, match="email is PII, dropped"):
        alice.run_query("SELECT c.email FROM raw_sources.customers AS c")


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DELETE FROM raw_sources.customers", "only a read-only SELECT.*only read"),
        ("DROP TABLE raw_sources.customers", "got DROP"),
        ("SELECT 1 FROM raw_sources.customers; SELECT 2 FROM hr.salaries", "2 statements"),
        ("SELECT * FROM read_csv('/etc/passwd')", "table-valued functions"),
    ],
)
def test_writes_and_several_statements_are_refused_and_nothing_recorded(
    world, sql, message
) -> None:
    alice = world()
    with pytest.raises(QueryRefused, match=message):
        alice.run_query(sql)
    assert alice.history() == [] and _audit(alice, "query_run") == []
    assert _audit(alice, "access_denied")[-1]["details"]["sql_sha256"] == sql_hash(sql)


def test_a_join_onto_an_ungranted_table_is_refused_naming_it(world, home) -> None:
    alice = world()
    sql = "SELECT c.id FROM raw_sources.customers c JOIN hr.salaries s ON c.id = s.id"
    with pytest.raises(AccessDenied, match="may not read hr.salaries"):
        alice.run_query(sql)
    assert alice.history() == []
    assert world("admin_erin").run_query(sql).page.rows == [[1]]  # platform: "*"
    # Even with every grant, a quoted path is not a table: no way around the masked views.
    raw = home.warehouse_dir / "raw_sources.db" / "customers"
    with pytest.raises(NotFound, match="not a catalog table name"):
        world("admin_erin").run_query(f"SELECT * FROM `{raw}`")


def test_saved_query_parameters_are_typed_and_bound_never_pasted(world) -> None:
    alice = world()
    alice.save_query(
        "by_nid",
        "SELECT id FROM raw_sources.customers WHERE national_id = {{ nid }} OR id < {{ n }}",
        {"nid": "str", "n": "int"},
        shared=True,
    )
    assert alice.run_saved("by_nid", {"nid": "x", "n": "3"}).page.rows == [[0], [1], [2]]
    # A value that would change a pasted query is only a value here.
    injected = alice.run_saved("by_nid", {"nid": "' OR 1=1 --", "n": 0})
    assert injected.page.rows == [] and injected.saved_query == "by_nid"
    with pytest.raises(ParameterError, match="'n' must be int, got '1 OR 1=1'"):
        alice.run_saved("by_nid", {"nid": "x", "n": "1 OR 1=1"})
    with pytest.raises(ParameterError, match="'n' .* has no value"):
        alice.run_saved("by_nid", {"nid": "x"})
    with pytest.raises(ParameterError, match="declares no type"):
        alice.save_query("bad", "SELECT id FROM raw_sources.customers WHERE id < {{ n }}", {})
    with pytest.raises(ParameterError, match="inside a quoted string"):
        alice.save_query(
            "bad", "SELECT id FROM raw_sources.customers WHERE email = '{{ e }}'", {"e": "str"}
        )
    with pytest.raises(QueryRefused, match="got INSERT"):
        alice.save_query("bad", "INSERT INTO raw_sources.customers SELECT {{ n }}", {"n": "int"})
    assert [s.name for s in alice.saved_queries()] == ["by_nid"]
    assert [h.saved_query for h in alice.history()] == ["by_nid", "by_nid"]


def test_a_saved_query_is_readable_by_its_team_only(world) -> None:
    alice, bob = world(), world("validator_bob")
    alice.save_query("mine", "SELECT id FROM raw_sources.customers", {})
    assert bob.saved_queries() == []
    with pytest.raises(AccessDenied.__mro__[1], match="belongs to ds_alice"):
        bob.run_saved("mine", {})


def test_history_is_searchable_and_favourites_are_per_user(world) -> None:
    alice = world()
    first = alice.run_query("SELECT count(*) AS n FROM raw_sources.customers").history_id
    alice.run_query("SELECT id FROM raw_sources.events WHERE day = '2026-12-01'")
    assert [h.id for h in alice.history(search="count(")] == [first]
    assert alice.history(search="%") == []  # matched literally, not as a wildcard
    alice.favourite(first)
    assert [h.id for h in alice.history(favourites=True)] == [first]
    with pytest.raises(Exception, match="not one of validator_bob's"):
        world("validator_bob").favourite(first)


def test_suggestions_name_the_partition_filter_columns_and_a_preview_limit(world) -> None:
    alice = world()
    hints = alice.run_query("SELECT * FROM raw_sources.events").page.suggestions
    assert any("partitioned by day" in h and "WHERE day" in h for h in hints)
    assert any("LIMIT 100" in h for h in hints)
    filtered = alice.run_query("SELECT id FROM raw_sources.events WHERE day = '2026-12-02'")
    assert filtered.page.suggestions == [] and filtered.page.rows == [[3], [4]]


def test_wide_tables_get_the_select_columns_hint(world, home) -> None:
    wide = pd.DataFrame({f"c{i}": [i] for i in range(30)})
    write_catalog_table(home, "raw_sources.wide", wide)
    hints = world().run_query("SELECT * FROM raw_sources.wide LIMIT 5").page.suggestions
    assert hints == [
        "raw_sources.wide has 30 columns: select only the columns you need instead of `*` "
        "(less data read and sent)"
    ]


def test_a_query_over_the_timeout_is_interrupted(world) -> None:
    slow = world(limits=QueryLimits(timeout_seconds=0.2))
    sql = (
        "SELECT count(*) FROM raw_sources.customers a, raw_sources.customers b, "
        "raw_sources.customers c, raw_sources.customers d WHERE a.income + b.income > d.id"
    )
    with pytest.raises(QueryTimeout, match="longer than 0.2 s"):
        slow.run_query(sql)
    assert slow.history() == []
