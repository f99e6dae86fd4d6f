"""The platform API's sources, queries and runs over real HTTP on 127.0.0.1: `aurora governance
serve` (the platform app) beside a real `dagster-webserver` on the same Dagster instance."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import NamedTuple

import httpx
import pandas as pd
import pytest

from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.settings import DEFAULT_POLICY, REPO_DIR
from tests.dagster_webserver import dagster_webserver
from tests.factories import customers_frame, home_settings, write_catalog_table
from tests.governance_server import free_port, governance_server

EXPERIMENT = "credit_default"


class Platform(NamedTuple):
    url: str
    dagster_url: str
    store: GovernanceStore
    tokens: dict[str, str]
    env: dict[str, str]  # what the servers were started with

    def client(self, user: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    root = tmp_path_factory.mktemp("platform")
    settings = home_settings(root)
    settings.experiments_dir.mkdir()
    shutil.copy(REPO_DIR / "experiments" / f"{EXPERIMENT}.yaml", settings.experiments_dir)
    write_catalog_table(settings, "raw_sources.customers", customers_frame())
    write_catalog_table(settings, "hr.salaries", pd.DataFrame({"id": [1], "salary": [9.0]}))
    (settings.dagster_home).mkdir(parents=True)
    (settings.dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        "AURORA_HOME": str(root),
        "DAGSTER_HOME": str(settings.dagster_home),
        "AURORA_EXPERIMENTS_DIR": str(settings.experiments_dir),
        "AURORA_POLICY": str(DEFAULT_POLICY),
    }
    store = GovernanceStore(settings.governance_db_url, load_policy(DEFAULT_POLICY))
    tokens = {u: store.create_token(u, u)[0] for u in ("ds_alice", "validator_bob")}
    dagster_url = f"http://127.0.0.1:{free_port()}"
    with ExitStack() as stack, ThreadPoolExecutor(2) as pool:
        # Both servers start at once: each spends its start-up importing the platform.
        web = pool.submit(
            stack.enter_context, dagster_webserver(env, port=int(dagster_url.rsplit(":", 1)[1]))
        )
        api = pool.submit(
            stack.enter_context, governance_server({**env, "AURORA_DAGSTER_URL": dagster_url})
        )
        url = api.result()
        web.result()
        yield Platform(url, dagster_url, store, tokens, {**env, "AURORA_DAGSTER_URL": dagster_url})
    store.dispose()


def test_sources_show_only_granted_tables_and_refuse_others_by_name(platform) -> None:
    alice = platform.client("ds_alice")
    assert httpx.get(f"{platform.url}/api/v1/sources").status_code == 401
    listed = alice.get("/api/v1/sources").json()
    assert [s["name"] for s in listed] == ["raw_sources.customers"]
    shown = alice.get("/api/v1/sources/raw_sources.customers").json()
    assert shown["rows"] == 250 and shown["teams"] == ["risk"]
    assert {c["name"]: c["pii"] for c in shown["columns"]}["email"] == "drop"
    refused = alice.get("/api/v1/sources/hr.salaries")
    assert refused.status_code == 403 and "hr.salaries" in refused.json()["detail"]
    denied = platform.store.read_audit(event="access_denied")
    assert denied[-1]["actor"] == "ds_alice" and denied[-1]["target"] == "hr.salaries"


def test_queries_page_audit_and_refuse_over_http(platform) -> None:
    alice = platform.client("ds_alice")
    sql = "SELECT id FROM raw_sources.customers ORDER BY id"
    first = alice.post("/api/v1/queries", json={"sql": sql, "limit": 200}).json()
    assert first["row_count"] == 200 and first["next_page"] == 2
    second = alice.post("/api/v1/queries", json={"sql": sql, "limit": 200, "page": 2}).json()
    assert [r[0] for r in second["rows"]] == list(range(200, 250)) and not second["has_more"]
    past = alice.post("/api/v1/queries", json={"sql": sql, "limit": 200, "page": 5})
    assert past.status_code == 200 and past.json()["rows"] == []
    audited = platform.store.read_audit(event="query_run")[-3:]
    assert [a["details"]["rows"] for a in audited] == [200, 50, 0]
    for bad, status, says in [
        ("DROP TABLE raw_sources.customers", 400, "got DROP"),
        ("SELECT 1 FROM raw_sources.customers; SELECT 2 FROM raw_sources.customers", 400, "2 "),
        ("SELECT * FROM hr.salaries", 403, "hr.salaries"),
    ]:
        refused = alice.post("/api/v1/queries", json={"sql": bad})
        assert refused.status_code == status and says in refused.json()["detail"]
    history = alice.get("/api/v1/queries/history", params={"last": 3}).json()
    assert [h["row_count"] for h in history] == [0, 50, 200]
    assert alice.put(f"/api/v1/queries/history/{history[2]['id']}/favourite").status_code == 200
    starred = alice.get("/api/v1/queries/history", params={"favourites": True}).json()
    assert [h["id"] for h in starred] == [history[2]["id"]]


def test_saved_queries_bind_typed_parameters_over_http(platform) -> None:
    alice, bob = platform.client("ds_alice"), platform.client("validator_bob")
    body = {
        "name": "low_ids",
        "sql": "SELECT id FROM raw_sources.customers WHERE id < {{ n }} ORDER BY id",
        "params": {"n": "int"},
        "shared": True,
    }
    assert alice.post("/api/v1/queries/saved", json=body).status_code == 201
    assert alice.post("/api/v1/queries/saved", json=body).status_code == 409
    ran = alice.post("/api/v1/queries/saved/low_ids/run", json={"params": {"n": 3}}).json()
    assert ran["rows"] == [[0], [1], [2]] and ran["saved_query"] == "low_ids"
    wrong = alice.post("/api/v1/queries/saved/low_ids/run", json={"params": {"n": "1 OR 1=1"}})
    assert wrong.status_code == 400 and "must be int" in wrong.json()["detail"]
    assert [s["name"] for s in alice.get("/api/v1/queries/saved").json()] == ["low_ids"]
    assert bob.get("/api/v1/queries/saved").json() == []  # shared with risk, not model_risk
    assert bob.post("/api/v1/queries/saved/low_ids/run", json={}).status_code == 403


def test_a_run_launched_through_the_api_is_on_the_dagster_instance_and_cancellable(
    platform,
) -> None:
    alice, bob = platform.client("ds_alice"), platform.client("validator_bob")
    refused = bob.post("/api/v1/runs", json={"experiment": EXPERIMENT})
    assert refused.status_code == 403 and "not 'risk'" in refused.json()["detail"]
    launched = alice.post("/api/v1/runs", json={"experiment": EXPERIMENT})
    assert launched.status_code == 201, launched.text
    run = launched.json()
    assert run["job"] == f"{EXPERIMENT}__lifecycle" and run["launched_by"] == "ds_alice"
    assert run["logs_url"] == f"{platform.dagster_url}/runs/{run['run_id']}"
    # The Dagster webserver (what `make ui` serves) knows the run.
    page = httpx.get(run["logs_url"], timeout=30)
    assert page.status_code == 200
    listed = alice.get("/api/v1/runs", params={"experiment": EXPERIMENT}).json()
    assert run["run_id"] in [r["run_id"] for r in listed]
    assert bob.post(f"/api/v1/runs/{run['run_id']}/cancel").status_code == 403
    canceled = alice.post(f"/api/v1/runs/{run['run_id']}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] in {"CANCELING", "CANCELED"}
    assert alice.get(f"/api/v1/runs/{run['run_id']}").json()["status"] in {
        "CANCELING",
        "CANCELED",
    }
    assert alice.get("/api/v1/runs/no-such-run").status_code == 404
    bad_job = alice.post("/api/v1/runs", json={"experiment": EXPERIMENT, "job": "rm_rf"})
    assert bad_job.status_code == 400 and "lifecycle" in bad_job.json()["detail"]
    events = [a["event"] for a in platform.store.read_audit(limit=50)]
    assert "run_launched" in events and "run_canceled" in events


def test_aurora_runs_launch_list_status_and_cancel_a_run_from_the_cli(
    platform, monkeypatch, capsys, tmp_path
) -> None:
    import json

    from aurora_pipelines.cli import main
    from tests.factories import cli_error

    for key, value in platform.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # no token file of the machine's user

    def aurora(user: str, *argv: str) -> dict | list:
        monkeypatch.setenv("AURORA_TOKEN", platform.tokens[user])
        main([*argv, "--json"])
        return json.loads(capsys.readouterr().out)

    run = aurora("ds_alice", "runs", "launch", EXPERIMENT)
    assert run["job"] == f"{EXPERIMENT}__lifecycle" and run["launched_by"] == "ds_alice"
    listed = aurora("ds_alice", "runs", "list", "--experiment", EXPERIMENT)
    assert run["run_id"] in [r["run_id"] for r in listed]
    assert aurora("ds_alice", "runs", "status", run["run_id"])["run_id"] == run["run_id"]
    monkeypatch.setenv("AURORA_TOKEN", platform.tokens["validator_bob"])
    assert "not 'risk'" in cli_error(capsys, "runs", "cancel", run["run_id"])
    canceled = aurora("ds_alice", "runs", "cancel", run["run_id"])
    assert canceled["status"] in {"CANCELING", "CANCELED"}
    assert aurora("ds_alice", "runs", "status", run["run_id"])["status"] in {
        "CANCELING",
        "CANCELED",
    }
    (row,) = [
        r
        for r in platform.store.read_audit(event="run_canceled")
        if r["target"].endswith(run["run_id"])
    ]
    assert row["actor"] == "ds_alice"
