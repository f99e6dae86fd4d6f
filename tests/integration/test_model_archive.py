"""Model archives: download (CLI and API) for the experiment's team only, verify, EDA in MLflow."""

from __future__ import annotations

import json
import zipfile

import pytest
import yaml
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from aurora_pipelines.cli import main
from aurora_pipelines.governance import GovernanceStore
from aurora_pipelines.platform_api.app import create_platform_app
from aurora_pipelines.profiling.profile import profile_table
from aurora_pipelines.profiling.report import write_profile_html, write_profile_json
from aurora_pipelines.registry.eda_artifacts import log_eda_artifacts
from aurora_pipelines.registry.mlflow_registry import load_model
from aurora_pipelines.sources.sample_data import generate_credit_data
from tests.factories import BASE_SPEC, cli_error, register_model, train_model

NAME = "churn_archive"


@pytest.fixture
def world(home, spark, monkeypatch):
    """A registered LightGBM version of NAME with its EDA profile, as ds_alice (team risk)."""
    frame = generate_credit_data(400, seed=11)
    home.experiments_dir.mkdir(parents=True, exist_ok=True)
    spec = {**BASE_SPEC, "name": NAME, "features": {"dbt_model": f"{NAME}_features"}}
    (home.experiments_dir / f"{NAME}.yaml").write_text(yaml.safe_dump(spec))
    result = train_model(frame, algorithms=["lightgbm"])
    registered = register_model(home, NAME, result, frame, home.lake_dir / NAME / "features")
    eda = home.reports_dir / NAME / "eda"
    profile = profile_table(
        spark.createDataFrame(frame.drop(columns=["application_date", "last_delinquency_date"])),
        target="default_flag",
        sample_rows=400,
    )
    write_profile_html(profile, eda / "profile.html")
    write_profile_json(profile, eda / "profile.json")
    monkeypatch.setenv("AURORA_USER", "ds_alice")
    return home, registered, frame, result


def test_eda_profile_and_its_plots_are_logged_to_the_training_run(world):
    home, registered, _, _ = world
    logged = log_eda_artifacts(
        home.tracking_uri, registered.run_id, home.reports_dir / NAME / "eda"
    )
    assert {"eda/profile.html", "eda/profile.json"} <= set(logged)
    plots = [p for p in logged if p.startswith("eda/plots/") and p.endswith(".png")]
    assert plots, logged
    stored = MlflowClient(home.tracking_uri).list_artifacts(registered.run_id, "eda/plots")
    assert sorted(f.path for f in stored) == sorted(plots)


def test_download_holds_model_profile_leaderboard_and_verifies_until_a_file_changes(
    world, tmp_path, capsys
):
    home, registered, frame, result = world
    out = tmp_path / "churn.zip"
    assert main(["models", "download", NAME, "-o", str(out)]) in (None, 0)
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert {"model/MLmodel", "leaderboard.json", "profile/profile.html"} <= names
    assert manifest["model_version"] == registered.version
    assert manifest["model_digest"] == registered.digest
    assert set(manifest["files"]) == names - {"manifest.json"}
    assert {"model_card", "uat"} <= set(manifest["missing"])  # not produced in this test
    capsys.readouterr()
    assert main(["models", "verify", str(out)]) in (None, 0)
    assert "files match the manifest" in capsys.readouterr().out
    # The LightGBM model round-trips through skops with its exact trusted types.
    loaded = load_model(home.tracking_uri, NAME, registered.version)
    assert (
        loaded.predict_proba(frame.head(20)) == result.model.predict_proba(frame.head(20))
    ).all()

    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            dst.writestr(item, b"[]" if item == "leaderboard.json" else data)
    assert "changed: leaderboard.json" in cli_error(capsys, "models", "verify", str(tampered))


def test_another_team_is_refused_on_the_cli_and_the_api_and_it_is_audited(
    world, tmp_path, capsys, monkeypatch
):
    home, registered, _, _ = world
    monkeypatch.setenv("AURORA_USER", "validator_bob")
    error = cli_error(capsys, "models", "download", NAME, "-o", str(tmp_path / "x.zip"))
    assert "may not download models of experiment" in error
    assert not (tmp_path / "x.zip").exists()

    store = GovernanceStore.from_settings(home)
    client = TestClient(create_platform_app(home, store))
    alice, _ = store.create_token("ds_alice", "admin_erin")
    bob, _ = store.create_token("validator_bob", "admin_erin")
    url = f"/api/v1/models/{NAME}/versions/{registered.version}/archive"
    assert client.get(url).status_code == 401
    refused = client.get(url, headers={"Authorization": f"Bearer {bob}"})
    assert refused.status_code == 403
    served = client.get(url, headers={"Authorization": f"Bearer {alice}"})
    assert served.status_code == 200 and served.headers["content-type"] == "application/zip"
    (tmp_path / "api.zip").write_bytes(served.content)
    capsys.readouterr()
    assert main(["models", "verify", str(tmp_path / "api.zip")]) in (None, 0)
    denied = [
        row
        for row in store.read_audit(event="access_denied")
        if row["actor"] == "validator_bob" and NAME in row["target"]
    ]
    assert len(denied) == 2  # the CLI refusal and the API one
    store.dispose()
