"""Creating an experiment from the Dagster Launchpad: the `create_experiment` job's typed run
config goes through the CLI's own validation; bad config fails before anything is written."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from aurora_pipelines.defs.launch import create_experiment_job
from aurora_pipelines.defs.resources import LakeResource
from tests.factories import cli_workspace


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aurora_home: Path) -> Path:
    return cli_workspace(tmp_path, monkeypatch)


@pytest.fixture
def csv_source(tmp_path: Path) -> Path:
    from aurora_pipelines.sources.sample_data import generate_credit_data

    path = tmp_path / "loans.csv"
    generate_credit_data(300, seed=5).to_csv(path, index=False)
    return path


def _launch(aurora_home: Path, **fields) -> dg.ExecuteInProcessResult:
    return create_experiment_job.execute_in_process(
        run_config={"ops": {"write_spec_and_launch": {"config": fields}}},
        resources={"lake": LakeResource(home=str(aurora_home))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _nothing_written(workspace: Path) -> bool:
    return (
        not (workspace / "experiments" / "loans.yaml").exists()
        and not (workspace / "dbt_project" / "models" / "experiments" / "loans").exists()
    )


def test_launchpad_config_with_an_unknown_field_or_no_target_is_refused_before_a_run(
    workspace, aurora_home, csv_source
):
    with pytest.raises(dg.DagsterInvalidConfigError, match="colour"):
        _launch(aurora_home, name="loans", source=str(csv_source), target="x", colour="red")
    with pytest.raises(dg.DagsterInvalidConfigError, match="target"):
        _launch(aurora_home, name="loans", source=str(csv_source))
    assert _nothing_written(workspace)


def test_a_target_missing_from_the_source_fails_with_the_cli_message(
    workspace, aurora_home, csv_source, spark
):
    result = _launch(
        aurora_home, name="loans", source=str(csv_source), target="defaulted", team="risk"
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure.step_failure_data.error.message
    assert "target column 'defaulted' is not in source" in message and "application_id" in message
    assert _nothing_written(workspace)


def test_the_launchpad_writes_the_spec_the_cli_would(workspace, aurora_home, csv_source, spark):
    from aurora_pipelines.specs import load_spec

    result = _launch(
        aurora_home,
        name="loans",
        source=str(csv_source),
        target="default_flag",
        team="risk",
        id_column="application_id",
        launch=False,
    )
    assert result.success
    spec = load_spec(workspace / "experiments" / "loans.yaml")
    assert (spec.team, spec.target, spec.source.kind) == ("risk", "default_flag", "csv")
    assert (workspace / "dbt_project" / "models" / "experiments" / "loans").is_dir()
