"""A saved query as an experiment's source: ingest reads it on Spark with its typed parameters
bound, as the experiment's team, and sees exactly what the DuckDB preview showed."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurora_pipelines.governance.store import GovernanceStore
from aurora_pipelines.lake import delta
from aurora_pipelines.sources.access import AccessDenied, SourceAccess
from aurora_pipelines.sources.browse import DataBrowser
from aurora_pipelines.sources.ingest import ingest_source
from aurora_pipelines.sources.query_params import ParameterError
from aurora_pipelines.specs import SourceSpec
from tests.factories import customers_frame, make_spec

TABLE = "raw_sources.dataaccess_customers"
SQL = f"SELECT id, national_id, income FROM {TABLE} WHERE id < {{{{ n }}}} ORDER BY id"


@pytest.fixture(scope="module")
def alice(spark, settings):
    """ds_alice's browser over a table Spark saved in the session's catalog, with one query
    shared with team risk and one kept private."""
    spark.sql("CREATE DATABASE IF NOT EXISTS raw_sources")
    spark.createDataFrame(customers_frame()).write.mode("overwrite").saveAsTable(TABLE)
    store = GovernanceStore.from_settings(settings)
    browser = DataBrowser(settings, store, "ds_alice")
    browser.save_query("dataaccess_low_ids", SQL, {"n": "int"}, shared=True)
    browser.save_query("dataaccess_private", SQL, {"n": "int"})
    yield browser
    store.dispose()


def test_ingest_reads_a_saved_query_with_bound_params_as_previewed(
    spark, settings, alice, tmp_path: Path
) -> None:
    # Spark's managed table is what the DuckDB browser reads, PII masked the same way.
    assert alice.show_source(TABLE).rows == 250
    preview = alice.run_saved("dataaccess_low_ids", {"n": 5}).page.rows
    source = SourceSpec(kind="saved_query", name="dataaccess_low_ids", params={"n": 5})
    access = SourceAccess.from_settings(settings, "risk", experiment="saved_demo")
    result = ingest_source(spark, source, tmp_path / "raw", {"target": "income"}, access=access)
    written = delta.read_pandas(tmp_path / "raw").sort_values("id")
    assert result.rows == 5 and result.resources == [TABLE]
    assert written.values.tolist() == preview


def test_a_wrong_type_parameter_or_a_private_query_writes_nothing(
    spark, settings, alice, tmp_path: Path
) -> None:
    access = SourceAccess.from_settings(settings, "risk")
    injected = SourceSpec(kind="saved_query", name="dataaccess_low_ids", params={"n": "5 OR 1=1"})
    with pytest.raises(ParameterError, match="'n' must be int"):
        ingest_source(spark, injected, tmp_path / "a", {}, access=access)
    private = SourceSpec(kind="saved_query", name="dataaccess_private", params={"n": 5})
    with pytest.raises(AccessDenied, match="not shared with team 'risk'"):
        ingest_source(spark, private, tmp_path / "b", {}, access=access)
    assert not delta.is_delta_table(tmp_path / "a") and not delta.is_delta_table(tmp_path / "b")


def test_a_spec_names_a_saved_query_source() -> None:
    spec = make_spec(source={"kind": "saved_query", "name": "q", "params": {"n": 3}})
    assert spec.source.display == "saved_query:q"
    with pytest.raises(ValueError, match="needs `name:`"):
        make_spec(source={"kind": "saved_query"})
