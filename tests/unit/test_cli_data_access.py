"""`aurora sources|query|queries|runs` as a user types them: output formats, one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from aurora_pipelines.cli import main
from tests.factories import cli_error, customers_frame, write_catalog_table


@pytest.fixture
def alice(home, monkeypatch):
    write_catalog_table(home, "raw_sources.customers", customers_frame(30))
    write_catalog_table(home, "hr.salaries", pd.DataFrame({"id": [1]}))
    monkeypatch.setenv("AURORA_USER", "ds_alice")
    return home


def _out(capsys, *argv: str) -> str:
    main(list(argv))
    return capsys.readouterr().out


def test_sources_and_a_csv_page_as_the_user(alice, capsys) -> None:
    listed = json.loads(_out(capsys, "sources", "list", "--json"))
    assert [s["name"] for s in listed] == ["raw_sources.customers"]
    assert "masked (HMAC-SHA256)" in _out(capsys, "sources", "show", "raw_sources.customers")
    sql = "SELECT id, income FROM raw_sources.customers ORDER BY id"
    rows = list(
        csv.reader(
            io.StringIO(
                _out(capsys, "query", sql, "--limit", "4", "--page", "2", "--format", "csv")
            )
        )
    )
    assert rows == [
        ["id", "income"],
        ["4", "1040.0"],
        ["5", "1050.0"],
        ["6", "1060.0"],
        ["7", "1070.0"],
    ]
    past = json.loads(_out(capsys, "query", sql, "--page", "9", "--format", "json"))
    assert past["rows"] == [] and past["has_more"] is False


def test_refusals_are_one_line_errors_and_nothing_is_kept(alice, capsys) -> None:
    assert "may not read hr.salaries" in cli_error(capsys, "query", "SELECT * FROM hr.salaries")
    assert "got INSERT" in cli_error(
        capsys, "query", "INSERT INTO raw_sources.customers SELECT * FROM raw_sources.customers"
    )
    assert "--format xml" in cli_error(capsys, "query", "SELECT 1", "--format", "xml")
    assert json.loads(_out(capsys, "queries", "history", "--json")) == []


def test_saved_query_with_a_typed_param_from_the_command_line(alice, capsys) -> None:
    sql = "SELECT id FROM raw_sources.customers WHERE id < {{ n }} ORDER BY id"
    assert "shared with team risk" in _out(
        capsys, "queries", "save", "low", sql, "--param", "n:int", "--share"
    )
    ran = json.loads(_out(capsys, "query", "--saved", "low", "--param", "n=2", "--format", "json"))
    assert ran["rows"] == [[0], [1]]
    assert "'n' must be int" in cli_error(capsys, "query", "--saved", "low", "--param", "n=2;--")
    history = json.loads(_out(capsys, "queries", "history", "--json"))
    assert [h["saved_query"] for h in history] == ["low"]


def test_launching_a_run_of_an_unknown_experiment_names_the_known_ones(alice, capsys) -> None:
    alice.experiments_dir.mkdir(parents=True, exist_ok=True)
    assert "no experiment named 'nope'" in cli_error(capsys, "runs", "launch", "nope")
