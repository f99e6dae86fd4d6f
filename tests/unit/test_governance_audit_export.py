"""`aurora audit export`: what an auditor asks for, as CSV or JSON, filtered by time or
correlation id, with the chain verification alongside."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from aurora_pipelines.cli import main
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.settings import DEFAULT_POLICY

D1 = "1" * 64


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GovernanceStore:
    url = f"sqlite:///{tmp_path / 'governance.db'}"
    monkeypatch.setenv("AURORA_HOME", str(tmp_path))
    monkeypatch.setenv("AURORA_GOVERNANCE_URL", url)
    store = GovernanceStore(url, load_policy(DEFAULT_POLICY))
    store.audit("run_started", "ds_alice", "experiment/credit", {"full": True}, "corr-run")
    request = store.request_approval(
        "credit", "staging", "m", 1, D1, "ds_alice", correlation_id="corr-run"
    )
    with pytest.raises(Exception, match="requester cannot"):
        store.decide(request.id, "approve", "ds_alice")
    store.decide(request.id, "reject", "validator_bob", 'has "quotes", commas\nand a newline')
    store.audit("run_started", "ds_alice", "experiment/other", {}, "corr-other")
    return store


def _export(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(["audit", "export", *args])
    return capsys.readouterr().out


def test_csv_export_has_every_row_and_round_trips_awkward_text(store, capsys) -> None:
    rows = list(csv.DictReader(io.StringIO(_export(capsys, "--format", "csv"))))
    assert [r["event"] for r in rows] == [
        "run_started",
        "approval_requested",
        "access_denied",
        "approval_rejected",
        "run_started",
    ]
    assert [int(r["seq"]) for r in rows] == [1, 2, 3, 4, 5]
    details = json.loads(rows[3]["details"])
    assert details["comment"] == 'has "quotes", commas\nand a newline'
    assert rows[1]["prev_hash"] == rows[0]["hash"]


def test_json_export_filters_by_correlation_id_and_states_the_chain(store, capsys) -> None:
    document = json.loads(_export(capsys, "--format", "json", "--correlation-id", "corr-run"))
    assert document["chain"]["ok"] is True and document["chain"]["rows"] == 5
    events = [r["event"] for r in document["rows"]]
    # The decision keeps the request's correlation id; the refusal had none of its own.
    assert events == ["run_started", "approval_requested", "approval_rejected"]
    assert all(r["correlation_id"] == "corr-run" for r in document["rows"])


def test_since_filters_by_time_and_output_goes_to_a_file(store, capsys, tmp_path) -> None:
    assert json.loads(_export(capsys, "--format", "json", "--since", "2999-01-01"))["rows"] == []
    everything = json.loads(_export(capsys, "--format", "json", "--since", "2000-01-01T00:00"))
    assert len(everything["rows"]) == 5
    out = tmp_path / "audit.csv"
    main(["audit", "export", "--format", "csv", "--output", str(out), "--event", "run_started"])
    assert len(list(csv.DictReader(out.open()))) == 2


def test_export_reports_a_broken_chain(store, capsys) -> None:
    with store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE audit_log SET actor = 'mrm_carol' WHERE seq = 4")
    document = json.loads(_export(capsys, "--format", "json"))
    assert document["chain"]["ok"] is False and "seq 4 was edited" in document["chain"]["reason"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml"], "unknown export format 'xml'; use csv or json"),
        (["--since", "last tuesday"], "'last tuesday' is not an ISO date"),
    ],
)
def test_bad_export_options_fail_with_one_line(store, capsys, args, message) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["audit", "export", *args])
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
