"""Bad input through the `aurora` CLI: one line naming the problem and the fix; nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurora_pipelines.cli import main
from aurora_pipelines.settings import REPO_DIR
from tests.factories import cli_error as _fails
from tests.factories import cli_workspace


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aurora_home: Path) -> Path:
    """An experiments dir and a copy of the dbt project, so scaffolding stays in tmp."""
    return cli_workspace(tmp_path, monkeypatch)


@pytest.fixture
def csv_source(tmp_path: Path) -> Path:
    from aurora_pipelines.sources.sample_data import generate_credit_data

    path = tmp_path / "loans.csv"
    generate_credit_data(500, seed=5).to_csv(path, index=False)
    return path


def test_create_experiment_from_csv_writes_spec_and_dbt_models(workspace, csv_source, spark):
    main(
        [
            "experiments",
            "create",
            "loans",
            "--source",
            str(csv_source),
            "--target",
            "default_flag",
            "--id-column",
            "application_id",
        ]
    )
    from aurora_pipelines.specs import load_spec

    spec = load_spec(workspace / "experiments" / "loans.yaml")
    assert spec.team == "risk" and spec.owner == "ds_alice" and spec.source.kind == "csv"
    models = workspace / "dbt_project" / "models" / "experiments" / "loans"
    assert (models / "loans_features.sql").exists()


def test_missing_target_column_is_named_with_the_columns_and_writes_nothing(
    workspace, csv_source, capsys, spark
):
    err = _fails(
        capsys,
        "experiments",
        "create",
        "loans",
        "--source",
        str(csv_source),
        "--target",
        "defaulted",
    )
    assert "target column 'defaulted' is not in source" in err and "application_id" in err
    assert not (workspace / "experiments" / "loans.yaml").exists()
    assert not (workspace / "dbt_project" / "models" / "experiments" / "loans").exists()


def test_source_path_that_does_not_exist(workspace, capsys):
    err = _fails(
        capsys,
        "experiments",
        "create",
        "loans",
        "--source",
        str(workspace / "nope.csv"),
        "--target",
        "y",
    )
    assert "does not exist" in err
    assert not list((workspace / "experiments").iterdir())


def test_spec_with_unknown_field_or_missing_target(workspace, capsys):
    experiments = workspace / "experiments"
    good = (REPO_DIR / "experiments" / "credit_default.yaml").read_text()
    (experiments / "credit_default.yaml").write_text(good + "\nlearning_rate: 0.1\n")
    err = _fails(capsys, "status", "credit_default")
    assert "unknown field `learning_rate`" in err
    (experiments / "credit_default.yaml").write_text(good.replace("target: default_flag\n", ""))
    err = _fails(capsys, "status", "credit_default")
    assert "missing required field `target`" in err


def test_unknown_experiment_names_the_known_ones(workspace, capsys):
    err = _fails(capsys, "run", "nosuch")
    assert "no experiment named 'nosuch'" in err and "aurora experiments create" in err


def _request(settings_home: Path, requester: str = "ds_alice") -> int:
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.settings import get_settings

    store = GovernanceStore.from_settings(get_settings())
    return store.request_approval(
        experiment="cli_case",
        gate="staging",
        model_name="cli_case",
        model_version="1",
        model_digest="a" * 64,
        requested_by=requester,
    ).id


def test_requester_cannot_approve_through_the_cli(workspace, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("AURORA_GOVERNANCE_URL", f"sqlite:///{tmp_path / 'gov.db'}")
    request_id = _request(tmp_path)
    err = _fails(capsys, "approvals", "approve", str(request_id), "--comment", "lgtm")
    assert "requester" in err
    monkeypatch.setenv("AURORA_USER", "mrm_carol")
    err = _fails(capsys, "approvals", "approve", str(request_id), "--comment", "lgtm")
    assert "validator_bob" in err  # names who may approve instead
    monkeypatch.setenv("AURORA_USER", "validator_bob")
    main(["approvals", "approve", str(request_id), "--comment", "checked"])
    main(["audit", "verify"])
    assert "audit chain intact" in capsys.readouterr().out


def test_audit_verify_fails_on_an_edited_row(workspace, capsys, monkeypatch, tmp_path):
    import sqlalchemy as sa

    monkeypatch.setenv("AURORA_GOVERNANCE_URL", f"sqlite:///{tmp_path / 'gov.db'}")
    _request(tmp_path)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'gov.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1"))
    with pytest.raises(SystemExit) as exc:
        main(["audit", "verify"])
    assert exc.value.code == 1
    assert "seq 1" in capsys.readouterr().err


def test_audit_verify_fails_when_the_newest_rows_were_cut_off(
    workspace, capsys, monkeypatch, tmp_path
):
    import sqlalchemy as sa

    monkeypatch.setenv("AURORA_GOVERNANCE_URL", f"sqlite:///{tmp_path / 'gov.db'}")
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.settings import get_settings

    store = GovernanceStore.from_settings(get_settings())
    for i in (1, 2):
        store.audit("run_started", "ds_alice", f"experiment/e{i}")
    main(["audit", "verify"])
    assert "head seq 2 recorded in" in capsys.readouterr().out
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'gov.db'}")
    with engine.begin() as conn:  # the chain that is left is still a valid chain
        conn.execute(sa.text("DELETE FROM audit_log WHERE seq = 2"))
    err = _fails(capsys, "audit", "verify")
    assert "broken at seq 2" in err and "ends at seq 1" in err and "gov.db.audit-head" in err


def test_run_with_a_partition_outside_the_daily_range(workspace, capsys):
    experiments = workspace / "experiments"
    good = (REPO_DIR / "experiments" / "credit_default.yaml").read_text()
    (experiments / "credit_default.yaml").write_text(good)
    err = _fails(capsys, "run", "credit_default", "--partition", "1999-01-01")
    assert "no partition '1999-01-01'" in err and "--partition" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["experimnts", "list"], "No such command 'experimnts'"),
        (["approvals", "show", "seven"], "Invalid value for 'request_id'"),
        (["approvals", "show"], "Missing argument 'request_id'"),
        (["audit", "show", "--colour"], "No such option: --colour"),
    ],
)
def test_usage_errors_print_the_usage_and_exit_2_without_a_traceback(capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: aurora") and message in err and "Traceback" not in err
