"""The workspace engine without Spark: questionnaire defaults and refusals, versions, roles,
catalog search and templates, on a real SQLite governance database."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurora_pipelines.errors import PermissionDenied, SpecError
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.settings import DEFAULT_POLICY
from aurora_pipelines.workspace import catalog
from aurora_pipelines.workspace.manage import (
    template_data,
    update_spec,
    with_answers,
    write_atomically,
)
from aurora_pipelines.workspace.store import WorkspaceStore
from tests.factories import home_settings, make_spec

ANSWERS = {
    "business_objective": "Fewer defaults",
    "decision_supported": "Approve loans",
    "cost_fn_vs_fp": 4,
    "success_metric": "f1",
    "success_threshold": 0.4,
    "output_consumers": "Credit officers",
    "materiality": "high",
    "decision_automation": "automated",
    "personal_data": True,
    "regulatory_use": "credit_decision",
}


@pytest.fixture
def world(tmp_path: Path):
    settings = home_settings(tmp_path)
    store = GovernanceStore(f"sqlite:///{tmp_path / 'gov.db'}", load_policy(DEFAULT_POLICY))
    yield settings, WorkspaceStore(store)
    store.dispose()


def test_answers_drive_metric_bar_class_weights_and_risk() -> None:
    data = with_answers({"problem_type": "classification", "training": {"cv_folds": 3}}, ANSWERS)
    assert data["training"] == {
        "primary_metric": "f1",
        "metric_min": 0.4,
        "class_weight": "balanced",
        "cv_folds": 3,
    }
    assert data["governance"]["risk"] == {
        "materiality": "high",
        "decision_automation": "automated",
        "personal_data": True,
        "regulatory_use": ["credit_decision"],
    }


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"success_threshold": 0.4, "success_metric": "roc_auc"}, "0.5 is chance"),
        ({"cost_fn_vs_fp": 0}, "cost_fn_vs_fp"),
        ({"time_horizon_days": 0}, "time_horizon_days"),
        ({"success_metric": "auc"}, "not a metric Aurora computes"),
        ({"regulatory_use": ["gambling"]}, "regulatory_use"),
    ],
)
def test_an_out_of_range_answer_is_refused_naming_it(answer, message) -> None:
    with pytest.raises(SpecError, match=message):
        with_answers({"problem_type": "classification"}, {**ANSWERS, **answer})


def test_a_viewer_edit_is_refused_and_audited_an_editor_makes_a_version(world) -> None:
    settings, workspace = world
    spec = make_spec("shared", description="Shared churn model", tags=["churn"])
    write_atomically(settings.experiments_dir, spec)
    workspace.record_version(spec, "ds_alice", "created")
    with pytest.raises(PermissionDenied, match="validator_bob is viewer"):
        update_spec(settings, workspace, "shared", {"training.cv_folds": 3}, "validator_bob")
    assert [v.version for v in workspace.history("shared")] == [1]
    refused = workspace.governance.read_audit(event="experiment_action_refused")
    assert refused[-1]["actor"] == "validator_bob"
    workspace.grant(spec, "validator_bob", "editor", "ds_alice")
    _, version, changed = update_spec(
        settings, workspace, "shared", {"training.cv_folds": 3}, "validator_bob", "faster"
    )
    assert changed and version.version == 2 and version.author == "validator_bob"
    assert "+  cv_folds: 3" in version.diff
    # The same content again is no new version.
    _, again, changed = update_spec(
        settings, workspace, "shared", {"training.cv_folds": 3}, "ds_alice"
    )
    assert not changed and again.version == 2
    with pytest.raises(SpecError, match="cannot be edited"):
        update_spec(settings, workspace, "shared", {"owner": "validator_bob"}, "ds_alice")


def test_search_filters_by_words_team_owner_and_status(world) -> None:
    settings, workspace = world
    for name, description, owner in [
        ("alpha", "Credit default of loans", "ds_alice"),
        ("beta", "Customer churn", "ds_alice"),
        ("gamma", "Credit limit", "validator_bob"),
    ]:
        write_atomically(
            settings.experiments_dir, make_spec(name, description=description, owner=owner)
        )
    entries = catalog.catalog(settings, workspace)
    assert [e.name for e in catalog.search(entries, text="credit")] == ["alpha", "gamma"]
    assert [e.name for e in catalog.search(entries, text="loans CREDIT")] == ["alpha"]
    assert [e.name for e in catalog.search(entries, owner="validator_bob")] == ["gamma"]
    assert [e.stage for e in entries] == ["created"] * 3
    assert catalog.search(entries, status="pending_approval") == []
    with pytest.raises(SpecError, match="unknown status 'done'"):
        catalog.search(entries, status="done")


def test_templates_set_their_problem_and_an_unknown_one_is_refused() -> None:
    assert template_data("churn")["questionnaire"]["success_metric"] == "roc_auc"
    assert template_data("segmentation")["problem_type"] == "clustering"
    with pytest.raises(SpecError, match="unknown template"):
        template_data("fraud")
