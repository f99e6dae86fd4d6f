"""The MRM approver sees the UAT evidence of a production request through the governance API
(real uvicorn on 127.0.0.1) before deciding."""

from __future__ import annotations

from tests.integration.test_governance_api import D1, Api, _token, api  # noqa: F401 (fixture)


def test_production_request_shows_the_uat_report_to_the_mrm_approver(
    api: Api,  # noqa: F811
    capsys,
    monkeypatch,
) -> None:
    evidence = {
        "uat_report": "/home/reports/credit/uat/v3/uat_report.html",
        "uat_rows": 1200,
        "uat_metrics": {"roc_auc": 0.81},
        "uat_vs_training": [
            {"metric": "roc_auc", "uat": 0.81, "training_holdout": 0.8, "delta": 0.01}
        ],
    }
    request = api.store.request_approval(
        "credit", "production", "m", 3, D1, "ds_alice", details=evidence
    )
    carol = _token("mrm_carol", capsys, monkeypatch)
    with api.client(carol) as client:
        shown = client.get(f"/api/v1/approvals/{request.id}").json()
        listed = client.get("/api/v1/approvals", params={"status": "pending"}).json()
    assert shown["details"] == evidence
    assert listed[0]["details"]["uat_metrics"] == {"roc_auc": 0.81}
