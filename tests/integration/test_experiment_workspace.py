"""The experiment workspace through the `aurora` CLI: questionnaire, versions, roles, list and
search, clone and templates, archive and health, on a real source read by Spark."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
import yaml

from aurora_pipelines.cli import main
from aurora_pipelines.specs import load_spec
from tests.factories import cli_error, cli_workspace

ANSWERS = {
    "business_objective": "Cut credit losses on personal loans.",
    "decision_supported": "Approve or refer a loan application.",
    "positive_class_meaning": "The loan defaults within a year.",
    "cost_fn_vs_fp": 5,
    "success_metric": "average_precision",
    "success_threshold": 0.35,
    "time_horizon_days": 365,
    "output_consumers": "Credit officers",
    "decision_automation": "human_review",
    "materiality": "high",
    "personal_data": True,
    "regulatory_use": ["credit_decision"],
}


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aurora_home: Path) -> Path:
    root = cli_workspace(tmp_path, monkeypatch)
    # A governance database of this test alone (versions and roles are per experiment name).
    monkeypatch.setenv("AURORA_GOVERNANCE_URL", f"sqlite:///{tmp_path / 'governance.db'}")
    from aurora_pipelines.sources.sample_data import generate_credit_data

    generate_credit_data(400, seed=5).to_csv(tmp_path / "loans.csv", index=False)
    return root


def _create(root: Path, name: str, *extra: str) -> None:
    main(
        [
            "experiments",
            "create",
            name,
            "--source",
            str(root / "loans.csv"),
            "--id-column",
            "application_id",
            "--dbt-project",
            str(root / "dbt_project"),
            *extra,
        ]
    )


def _json(capsys: pytest.CaptureFixture[str], *argv: str):
    capsys.readouterr()
    main(list(argv))
    return json.loads(capsys.readouterr().out)


def test_questionnaire_versions_roles_search_clone_and_archive(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], spark
):
    answers = workspace / "answers.yaml"
    answers.write_text(yaml.safe_dump(ANSWERS))
    experiments = workspace / "experiments"

    # A questionnaire answer out of range: a clear message, nothing written.
    bad = workspace / "bad.yaml"
    bad.write_text(yaml.safe_dump({**ANSWERS, "success_threshold": 1.7}))
    err = cli_error(
        capsys, "experiments", "create", "loans", "--source", str(workspace / "loans.csv"),
        "--target", "default_flag", "--answers", str(bad),
    )  # fmt: skip
    assert "success_threshold" in err and "(0, 1]" in err
    assert not (experiments / "loans.yaml").exists()

    _create(workspace, "loans", "--target", "default_flag", "--answers", str(answers),
            "--description", "Personal loan defaults", "--tag", "retail")  # fmt: skip
    out = capsys.readouterr().out
    assert f"dbt scaffolds in {workspace / 'dbt_project'}" in out
    spec = load_spec(experiments / "loans.yaml")
    assert spec.questionnaire is not None and spec.questionnaire.cost_fn_vs_fp == 5
    # The answers decide the metric, its bar, the class weights and the risk fields.
    assert spec.training.primary_metric == "average_precision"
    assert spec.training.metric_min == 0.35 and spec.training.class_weight == "balanced"
    assert spec.governance.risk is not None and spec.governance.risk.materiality == "high"
    assert spec.governance.risk.regulatory_use == ["credit_decision"]

    # The data dictionary comes from the profile into the dbt sources YAML and a page; an
    # owner-edited description survives regeneration.
    import pandas as pd

    from aurora_pipelines.profiling.experiment import profile_experiment
    from aurora_pipelines.settings import get_settings

    frame = spark.createDataFrame(pd.read_csv(workspace / "loans.csv"))
    profile_experiment(get_settings(), spec, frame, "csv")
    main(["experiments", "dictionary", "loans", "--dbt-project", str(workspace / "dbt_project")])
    sources = workspace / "dbt_project" / "models" / "experiments" / "loans" / "loans.yml"
    document = yaml.safe_load(sources.read_text())
    (raw,) = [t for t in document["sources"][0]["tables"] if t["name"] == "raw"]
    columns = {c["name"]: c for c in raw["columns"]}
    assert "target" in columns["default_flag"]["description"]
    assert columns["annual_income"]["meta"]["aurora"]["missing_pct"] >= 0
    columns["annual_income"]["description"] = "Declared yearly income, EUR."
    sources.write_text(yaml.safe_dump(document, sort_keys=False))
    main(["experiments", "dictionary", "loans", "--dbt-project", str(workspace / "dbt_project")])
    again = yaml.safe_load(sources.read_text())["sources"][0]["tables"]
    (raw,) = [t for t in again if t["name"] == "raw"]
    kept = {c["name"]: c["description"] for c in raw["columns"]}
    assert kept["annual_income"] == "Declared yearly income, EUR."
    page = get_settings().reports_dir / "loans" / "dictionary" / "dictionary.md"
    assert "Declared yearly income, EUR." in page.read_text()

    # An edit by the owner is version 2, with its diff; the history lists both.
    main(["experiments", "edit", "loans", "training.cv_folds=3", "--note", "faster"])
    history = _json(capsys, "experiments", "history", "loans", "--json")
    assert [v["version"] for v in history] == [1, 2]
    assert history[0]["author"] == "ds_alice" and len(history[1]["content_hash"]) == 64
    assert "+  cv_folds: 3" in history[1]["diff"] and history[1]["note"] == "faster"

    # Someone outside the team is a viewer: the edit is refused, nothing changes.
    monkeypatch.setenv("AURORA_USER", "validator_bob")
    err = cli_error(capsys, "experiments", "edit", "loans", "training.cv_folds=4")
    assert "validator_bob is viewer on experiment 'loans'" in err and "share" in err
    assert load_spec(experiments / "loans.yaml").training.cv_folds == 3
    err = cli_error(capsys, "experiments", "share", "loans", "validator_bob", "--role", "owner")
    assert "may not grant roles" in err
    monkeypatch.setenv("AURORA_USER", "ds_alice")
    main(["experiments", "share", "loans", "validator_bob", "--role", "editor"])
    monkeypatch.setenv("AURORA_USER", "validator_bob")
    main(["experiments", "edit", "loans", "training.cv_folds=4"])
    assert load_spec(experiments / "loans.yaml").training.cv_folds == 4
    monkeypatch.setenv("AURORA_USER", "ds_alice")

    # Clone: onto an existing name refused; a new name records its origin and version.
    err = cli_error(capsys, "experiments", "clone", "loans", "loans")
    assert "already exists" in err
    main(
        [
            "experiments",
            "clone",
            "loans",
            "loans_v2",
            "--dbt-project",
            str(workspace / "dbt_project"),
        ]
    )
    clone = load_spec(experiments / "loans_v2.yaml")
    assert clone.origin is not None and clone.origin.name == "loans" and clone.origin.version == 3
    assert clone.questionnaire == spec.questionnaire

    # Templates: segmentation is clustering, created without a target; churn is searchable.
    _create(workspace, "segments", "--template", "segmentation")
    segments = load_spec(experiments / "segments.yaml")
    assert segments.problem_type.value == "clustering" and segments.target is None
    _create(workspace, "retention", "--template", "churn", "--target", "default_flag")
    retention = load_spec(experiments / "retention.yaml")
    assert retention.origin is not None and retention.origin.kind == "template"
    assert retention.training.metric_min == 0.75

    found = _json(capsys, "experiments", "list", "--search", "loan defaults", "--json")
    assert [e["name"] for e in found] == ["loans", "loans_v2"]
    assert found[0]["stage"] == "created" and found[0]["pending_approvals"] == []
    found = _json(capsys, "experiments", "list", "--search", "retention offer", "--json")
    assert [e["name"] for e in found] == ["retention"]
    assert _json(capsys, "experiments", "list", "--owner", "nobody", "--json") == []

    # Health: only the profile is evidence yet; the other components say why they are n/a.
    health = _json(capsys, "experiments", "health", "loans", "--json")
    components = {c["name"]: c for c in health["components"]}
    assert health["score"] == round(components["data_quality"]["score"])
    assert components["metric_vs_bar"]["score"] is None
    assert components["metric_vs_bar"]["detail"] == "never trained"
    listed = _json(capsys, "experiments", "list", "--search", "personal loan", "--json")
    assert listed[0]["health"] == health["score"]

    # Archive: owners only, audited; still listed (and readable) as archived.
    monkeypatch.setenv("AURORA_USER", "validator_bob")
    err = cli_error(capsys, "experiments", "archive", "loans_v2", "--yes")
    assert "may not archive" in err
    monkeypatch.setenv("AURORA_USER", "ds_alice")
    main(["experiments", "archive", "loans_v2", "--yes", "--reason", "superseded"])
    archived = _json(capsys, "experiments", "list", "--status", "archived", "--json")
    assert [e["name"] for e in archived] == ["loans_v2"]
    main(["audit", "verify"])

    # The code location keeps the archived experiment's assets, without schedules or sensors;
    # the daily health asset is there for every experiment.
    from aurora_pipelines.defs.definitions import build_definitions
    from aurora_pipelines.settings import get_settings

    defs = build_definitions(get_settings())
    automated = [d.name for d in [*defs.schedules, *defs.sensors]]
    assert any("loans_v2" not in n and "loans" in n for n in automated)
    assert not any("loans_v2" in n for n in automated)
    assert "workspace_health_daily" in automated
    graph = defs.resolve_asset_graph()
    assert graph.has(dg.AssetKey(["loans_v2", "train", "model"]))
    assert graph.has(dg.AssetKey(["workspace", "health"]))
