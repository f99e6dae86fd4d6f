"""/api/v1/experiments over real HTTP on 127.0.0.1 (`aurora governance serve`): create from
the questionnaire, list/search, show, edit, clone, history and health, as the token's user."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from aurora_pipelines.cli import main
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.settings import DEFAULT_POLICY
from tests.governance_server import governance_server
from tests.integration.test_experiment_workspace import ANSWERS


def _token(user: str, capsys: pytest.CaptureFixture[str], monkeypatch) -> str:
    monkeypatch.setenv("AURORA_USER", user)
    capsys.readouterr()
    main(["tokens", "create", user])
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_experiments_api_creates_finds_clones_and_guards_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from aurora_pipelines.sources.sample_data import generate_credit_data
    from tests.dbt_support import copy_project

    home = tmp_path / "home"
    env = {
        "AURORA_HOME": str(home),
        "AURORA_GOVERNANCE_URL": f"sqlite:///{home / 'governance.db'}",
        "AURORA_POLICY": str(DEFAULT_POLICY),
        "AURORA_EXPERIMENTS_DIR": str(tmp_path / "experiments"),
        "AURORA_DBT_PROJECT_DIR": str(copy_project(tmp_path / "dbt_project")),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    csv = tmp_path / "loans.csv"
    generate_credit_data(300, seed=5).to_csv(csv, index=False)
    store = GovernanceStore(env["AURORA_GOVERNANCE_URL"], load_policy(DEFAULT_POLICY))
    store.engine  # noqa: B018 — tables before the server starts
    alice = _token("ds_alice", capsys, monkeypatch)
    bob = _token("validator_bob", capsys, monkeypatch)
    body = {
        "name": "loans",
        "source": str(csv),
        "target": "default_flag",
        "id_column": "application_id",
        "description": "Personal loan defaults",
        "answers": ANSWERS,
    }
    try:
        with governance_server(env) as url:
            as_alice = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {alice}"}, timeout=120
            )
            as_bob = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {bob}"}, timeout=120
            )
            assert httpx.get(f"{url}/api/v1/experiments").status_code == 401

            bad = as_alice.post(
                "/api/v1/experiments", json={**body, "answers": {**ANSWERS, "cost_fn_vs_fp": -1}}
            )
            assert bad.status_code == 400 and "cost_fn_vs_fp" in bad.json()["detail"]
            assert not (tmp_path / "experiments" / "loans.yaml").exists()

            created = as_alice.post("/api/v1/experiments", json=body)
            assert created.status_code == 201, created.text
            assert created.json()["version"] == 1
            assert as_alice.post("/api/v1/experiments", json=body).status_code == 409

            shown = as_bob.get("/api/v1/experiments/loans").json()
            assert shown["your_role"] == "viewer" and shown["owner"] == "ds_alice"
            assert shown["questionnaire"]["success_metric"] == "average_precision"
            refused = as_bob.patch(
                "/api/v1/experiments/loans", json={"changes": {"training.cv_folds": 3}}
            )
            assert refused.status_code == 403 and "viewer" in refused.json()["detail"]
            edited = as_alice.patch(
                "/api/v1/experiments/loans", json={"changes": {"training.cv_folds": 3}}
            )
            assert edited.json() == {**edited.json(), "version": 2, "changed": True}

            # Bob's team has no grant on the source: his clone is refused, nothing written.
            refused = as_bob.post("/api/v1/experiments/loans/clone", json={"new_name": "bobs"})
            assert refused.status_code == 403 and "may not read" in refused.json()["detail"]
            assert not (tmp_path / "experiments" / "bobs.yaml").exists()
            cloned = as_alice.post("/api/v1/experiments/loans/clone", json={"new_name": "loans_b"})
            assert cloned.status_code == 201, cloned.text
            assert cloned.json()["origin"]["version"] == 2
            again = as_alice.post("/api/v1/experiments/loans/clone", json={"new_name": "loans_b"})
            assert again.status_code == 409

            found = as_alice.get("/api/v1/experiments", params={"search": "loan defaults"})
            assert [e["name"] for e in found.json()["items"]] == ["loans", "loans_b"]
            other = as_alice.get("/api/v1/experiments", params={"team": "model_risk"})
            assert other.json() == {"total": 0, "items": []}
            history = as_alice.get("/api/v1/experiments/loans/history").json()
            assert [v["version"] for v in history] == [1, 2]
            assert as_alice.get("/api/v1/experiments/nope/history").status_code == 404

            health = as_alice.get("/api/v1/experiments/loans/health", params={"refresh": True})
            assert health.status_code == 200 and 0 <= health.json()["score"] <= 100
            listed = as_alice.get("/api/v1/experiments", params={"search": "loans_b"}).json()
            assert listed["total"] == 1
    finally:
        store.dispose()
    audited = {row["event"] for row in store.read_audit()}
    assert {"spec_version_recorded", "experiment_action_refused"} <= audited
