"""serve/batch_scores and serve/ab_comparison through Dagster for one day, with the champion
and challenger read from real MLflow aliases; and the in-process runner (`aurora run`) planning
and passing a partition key for a mix of partitioned and unpartitioned assets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from mlflow import MlflowClient

from aurora_pipelines import lifecycle
from aurora_pipelines.deploy.routing import CHALLENGER, CHAMPION
from aurora_pipelines.errors import NotFound
from aurora_pipelines.lake import delta
from aurora_pipelines.settings import Settings
from aurora_pipelines.specs import ExperimentSpec
from tests.factories import make_spec, materialize, register_model, resources_for, train_model
from tests.integration.test_batch_scoring import DAYS, _frame

NAME = "batch_assets"


BATCH_SPEC = {"target": "y", "id_column": "id", "scoring": {"time_column": "event_time"}}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _frame(2_000, seed=1)


@pytest.fixture(scope="module")
def versions(settings: Settings, frame: pd.DataFrame) -> tuple[str, str]:
    """A champion trained on both features and a weaker challenger that only sees x2."""
    features = settings.lake_dir.joinpath(NAME, *lifecycle.FEATURES)
    registered = []
    for data in (frame, frame.assign(x1=0.0)):
        result = train_model(data, target="y", id_column="id", time_column="event_time")
        registered.append(register_model(settings, NAME, result, data, features).version)
    return registered[0], registered[1]


def _write_features(settings: Settings, spec: ExperimentSpec, frame: pd.DataFrame) -> Path:
    path = settings.lake_dir.joinpath(spec.name, *lifecycle.SCORING_FEATURES)
    delta.write_table(path, frame)
    return path


def _materialize(settings: Settings, spec: ExperimentSpec, day: str):
    from aurora_pipelines.defs.assets.serving import build_serving_assets

    return materialize(settings, build_serving_assets(spec), partition=day, raise_on_error=True)


def _metadata(result, stage) -> dict:
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.path[1:] == list(stage)
    ]
    assert event.partition is not None
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_a_day_is_scored_by_champion_and_challenger_and_compared(
    settings: Settings, spark, frame, versions
):
    spec = make_spec(NAME, BATCH_SPEC)
    _write_features(settings, spec, frame)
    uri = settings.tracking_uri
    client = MlflowClient(uri, uri)
    client.set_registered_model_alias(NAME, CHAMPION, versions[0])
    client.set_registered_model_alias(NAME, CHALLENGER, versions[1])

    result = _materialize(settings, spec, DAYS[1])
    scores_meta = _metadata(result, lifecycle.BATCH_SCORES)
    day_rows = int((frame["event_time"].dt.strftime("%Y-%m-%d") == DAYS[1]).sum())
    assert scores_meta["dagster/row_count"] == day_rows
    assert scores_meta["partition"] == DAYS[1]
    assert scores_meta["rows_selected_by"] == "time_column event_time"
    assert (scores_meta["model_version"], scores_meta["challenger_version"]) == versions

    path = settings.lake_dir.joinpath(NAME, *lifecycle.BATCH_SCORES)
    scores = delta.read_pandas(path)
    assert scores.groupby("role").size().to_dict() == {CHAMPION: day_rows, CHALLENGER: day_rows}
    assert set(scores["date"]) == {DAYS[1]}

    ab_meta = _metadata(result, lifecycle.AB_COMPARISON)
    assert ab_meta["compared"] is True and ab_meta["rows"] == day_rows
    assert ab_meta["score_psi"] > 0 and 0 < ab_meta["agreement_rate"] < 1
    assert ab_meta["champion_roc_auc"] > ab_meta["challenger_roc_auc"]  # the batch has labels
    # What the UI shows: both sides in one table, and their score distributions as a picture.
    assert f"| model version | {versions[0]} | {versions[1]} |" in ab_meta["comparison"]
    assert "| roc_auc |" in ab_meta["comparison"]
    assert "Score distributions" in ab_meta["score_distributions"]
    assert "](data:image/png;base64," in ab_meta["score_distributions"]
    ab = delta.read_pandas(settings.lake_dir.joinpath(NAME, *lifecycle.AB_COMPARISON))
    assert ab[["date", "champion_version", "challenger_version"]].values.tolist() == [
        [DAYS[1], *versions]
    ]

    # Another day adds its partition; re-running day 2 after the challenger left replaces
    # only day 2 and clears its comparison.
    _materialize(settings, spec, DAYS[0])
    client.delete_registered_model_alias(NAME, CHALLENGER)
    again = _materialize(settings, spec, DAYS[1])
    assert _metadata(again, lifecycle.AB_COMPARISON)["compared"] is False
    scores = delta.read_pandas(path)
    assert scores.groupby(["date", "role"]).size().to_dict() == {
        (DAYS[0], CHAMPION): int((frame["event_time"].dt.strftime("%Y-%m-%d") == DAYS[0]).sum()),
        (DAYS[0], CHALLENGER): int((frame["event_time"].dt.strftime("%Y-%m-%d") == DAYS[0]).sum()),
        (DAYS[1], CHAMPION): day_rows,
    }
    ab = delta.read_pandas(settings.lake_dir.joinpath(NAME, *lifecycle.AB_COMPARISON))
    assert ab["date"].tolist() == [DAYS[0]]


def test_without_a_time_column_the_day_scores_the_snapshot(
    settings: Settings, spark, frame, versions
):
    spec = make_spec(f"{NAME}_snap", BATCH_SPEC, scoring={"time_column": None})
    features = _write_features(settings, spec, frame)
    # Same registered model under this experiment's name.
    MlflowClient(settings.tracking_uri).copy_model_version(
        f"models:/{NAME}/{versions[0]}", spec.name
    )
    MlflowClient(settings.tracking_uri).set_registered_model_alias(spec.name, CHAMPION, "1")
    meta = _metadata(_materialize(settings, spec, DAYS[2]), lifecycle.BATCH_SCORES)
    assert meta["dagster/row_count"] == len(frame) and meta["rows_selected_by"] == "snapshot"
    assert meta["scoring_features_version"] == delta.version(features)


# --- the in-process runner ------------------------------------------------------------


def _runner_defs(
    settings: Settings, spec: ExperimentSpec, frame, version: str, *extra: dg.AssetsDefinition
) -> dg.Definitions:
    """The experiment's serving assets behind two real unpartitioned upstream assets."""
    from aurora_pipelines.defs.assets.serving import build_serving_assets

    @dg.asset(key=spec.key(*lifecycle.SCORING_FEATURES), group_name=spec.name)
    def scoring_features() -> None:
        _write_features(settings, spec, frame)

    @dg.asset(key=spec.key(*lifecycle.PRODUCTION), group_name=spec.name)
    def production() -> None:
        MlflowClient(settings.tracking_uri).set_registered_model_alias(spec.name, CHAMPION, version)

    return dg.Definitions(
        assets=[scoring_features, production, *build_serving_assets(spec), *extra],
        resources=resources_for(settings),
    )


def test_runner_plans_and_passes_the_partition_of_a_mixed_selection(
    settings: Settings, spark, frame, versions
):
    from aurora_pipelines.defs.runner import plan_selection, run_experiment, today_partition

    spec = make_spec(f"{NAME}_run", BATCH_SPEC)
    MlflowClient(settings.tracking_uri).copy_model_version(
        f"models:/{NAME}/{versions[0]}", spec.name
    )
    defs = _runner_defs(settings, spec, frame, "1")
    instance = dg.DagsterInstance.ephemeral()
    keys = {
        stage: dg.AssetKey(spec.key(*stage))
        for stage in (
            lifecycle.SCORING_FEATURES,
            lifecycle.PRODUCTION,
            lifecycle.BATCH_SCORES,
            lifecycle.AB_COMPARISON,
        )
    }

    first = run_experiment(defs, spec, instance, partition=DAYS[0])
    assert first.success and first.partition == DAYS[0]
    assert set(first.materialized) == {k.to_user_string() for k in keys.values()}
    run = instance.get_run_by_id(first.run_id)
    assert run.tags["dagster/partition"] == DAYS[0]
    scores = delta.read_pandas(settings.lake_dir.joinpath(spec.name, *lifecycle.BATCH_SCORES))
    assert set(scores["date"]) == {DAYS[0]}

    # That day is now up to date; another day needs only the partitioned assets.
    assert run_experiment(defs, spec, instance, partition=DAYS[0]).up_to_date
    assert plan_selection(defs, instance, spec, partition=DAYS[1]) == [
        keys[lifecycle.BATCH_SCORES],
        keys[lifecycle.AB_COMPARISON],
    ]
    second = run_experiment(defs, spec, instance, partition=DAYS[1])
    assert second.partition == DAYS[1]
    assert set(second.materialized) == {
        keys[lifecycle.BATCH_SCORES].to_user_string(),
        keys[lifecycle.AB_COMPARISON].to_user_string(),
    }

    # Only unpartitioned work left: the run carries no partition key (Dagster refuses one).
    @dg.asset(key=spec.key("serve", "notes"), group_name=spec.name)
    def notes() -> None:
        return None

    grown = _runner_defs(settings, spec, frame, "1", notes)
    assert plan_selection(grown, instance, spec, partition=DAYS[1]) == [notes.key]
    third = run_experiment(grown, spec, instance, partition=DAYS[1])
    assert third.success and third.partition is None
    assert "dagster/partition" not in instance.get_run_by_id(third.run_id).tags
    # The default partition is today's UTC day.
    assert plan_selection(grown, instance, spec) == [
        keys[lifecycle.BATCH_SCORES],
        keys[lifecycle.AB_COMPARISON],
    ]
    assert today_partition() == datetime.now(UTC).strftime("%Y-%m-%d")


def test_a_partition_outside_the_daily_range_names_the_fix(settings: Settings, frame, versions):
    from aurora_pipelines.defs.runner import plan_selection

    spec = make_spec(f"{NAME}_bad", BATCH_SPEC)
    defs = _runner_defs(settings, spec, frame, "1")
    for bad in ("1999-01-01", "27/11/2026"):
        with pytest.raises(NotFound, match="--partition"):
            plan_selection(defs, dg.DagsterInstance.ephemeral(), spec, partition=bad)


def test_score_today_runs_todays_partition_of_the_daily_job(
    settings: Settings, spark, frame, versions, tmp_path: Path
):
    """`<experiment>__score_today` (no partition to pick) runs `__score_and_monitor` for
    today's UTC day as a run of its own, recorded on the same instance."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from aurora_pipelines.defs.runner import today_partition
    from aurora_pipelines.defs.score_today import PARENT_TAG
    from tests.integration import score_today_location

    spec = score_today_location.SPEC
    _write_features(settings, spec, frame)
    client = MlflowClient(settings.tracking_uri)
    client.copy_model_version(f"models:/{NAME}/{versions[0]}", spec.name)
    client.set_registered_model_alias(spec.name, CHAMPION, "1")

    repository = ReconstructableRepository.for_module(score_today_location.__name__, "defs")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        job = repository.get_reconstructable_job(f"{spec.name}__score_today")
        with dg.execute_job(job, instance=instance) as parent:
            assert parent.success
            parent_id = parent.run_id
        (child,) = [r for r in instance.get_runs() if r.run_id != parent_id]
        assert child.job_name == f"{spec.name}__score_and_monitor"
        assert child.tags["dagster/partition"] == today_partition()
        assert child.tags[PARENT_TAG] == parent_id
        key = dg.AssetKey(spec.key(*lifecycle.BATCH_SCORES))
        (record,) = instance.fetch_materializations(key, limit=1).records
        assert record.partition_key == today_partition() and record.run_id == child.run_id
    assert set(
        delta.read_pandas(settings.lake_dir.joinpath(spec.name, *lifecycle.BATCH_SCORES))["date"]
    ) == {today_partition()}
