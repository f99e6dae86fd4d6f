"""Links added to stage assets' metadata (defs/assets/links.py): MLflow run, approval request
page and HTML reports, with the web addresses taken from the environment."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from aurora_pipelines.defs.assets.links import link_metadata


def test_links_follow_the_configured_web_addresses(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("AURORA_MLFLOW_UI_URL", "https://mlflow.example.org/")
    monkeypatch.setenv("AURORA_GOVERNANCE_UI_URL", "https://mrm.example.org/ui")
    report = tmp_path / "drift report.html"
    metadata = link_metadata(
        {
            "mlflow_run_id": "abc123",
            "mlflow_experiment_id": "7",
            "approval_request_id": dg.MetadataValue.int(42),
            "report": dg.MetadataValue.path(str(report)),
            "profile_json": dg.MetadataValue.path(str(tmp_path / "profile.json")),
        }
    )
    assert metadata["mlflow_run"].value == "https://mlflow.example.org/#/experiments/7/runs/abc123"
    assert metadata["governance_request"].value == "https://mrm.example.org/ui/requests/42"
    assert metadata["report_url"].value == report.as_uri()  # spaces escaped: a valid URL
    assert "%20" in metadata["report_url"].value
    assert "profile_json_url" not in metadata  # only HTML pages are links


def test_no_link_without_its_ids_and_none_overwritten():
    assert link_metadata({"mlflow_run_id": "abc"}) == {"mlflow_run_id": "abc"}  # no experiment
    assert link_metadata({"approval_request_id": None}) == {"approval_request_id": None}
    own = {"approval_request_id": 3, "governance_request": "kept"}
    assert link_metadata(own)["governance_request"] == "kept"
