"""The drift sensor on a real Dagster instance and governance store: it requests retraining
from a drift or performance window, skips with a reason (cooldown, open candidate, too little
data, within thresholds), and audits each decision."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from aurora_pipelines import lifecycle
from aurora_pipelines.settings import Settings
from aurora_pipelines.specs import ExperimentSpec

NAME = "sensor_exp"


def _spec(**monitoring) -> ExperimentSpec:
    return ExperimentSpec.model_validate(
        {
            "name": NAME,
            "team": "risk",
            "owner": "ds_alice",
            "source": {"kind": "csv", "path": "unused.csv"},
            "target": "default_flag",
            "id_column": "application_id",
            "features": {"dbt_model": f"{NAME}_features"},
            "monitoring": {"min_new_rows": 1000, "retrain_cooldown_hours": 24, **monitoring},
        }
    )


@pytest.fixture
def world(tmp_path: Path):
    from tests.factories import resources_for

    settings = Settings(home=tmp_path, experiments_dir=tmp_path / "experiments")
    instance = dg.DagsterInstance.ephemeral()
    return settings, instance, resources_for(settings)


def _report(instance, stage, **metadata) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=[NAME, *stage], metadata=metadata)
    )


def _evaluate(spec, instance, resources, cursor=None):
    from aurora_pipelines.defs.jobs import build_experiment_jobs
    from aurora_pipelines.defs.sensors.drift import build_drift_sensor

    sensor = build_drift_sensor(spec, build_experiment_jobs(spec))
    with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as ctx:
        return sensor(ctx), ctx.cursor


def _audit(settings: Settings) -> list[dict]:
    from aurora_pipelines.governance.store import GovernanceStore

    return GovernanceStore.from_settings(settings).read_audit()


def test_drift_triggers_once_then_cooldown_skips_with_an_audited_reason(world):
    settings, instance, resources = world
    spec = _spec()
    _report(instance, lifecycle.DRIFT, window="2026-11-20", drift_share=0.5, rows=5000)
    first, cursor = _evaluate(spec, instance, resources)
    assert isinstance(first, dg.RunRequest)
    assert first.tags["aurora/trigger"] == "drift"
    again, cursor = _evaluate(spec, instance, resources, cursor)
    assert isinstance(again, dg.SkipReason) and "no new" in again.skip_message
    _report(instance, lifecycle.DRIFT, window="2026-11-21", drift_share=0.6, rows=5000)
    cooled, _ = _evaluate(spec, instance, resources, cursor)
    assert isinstance(cooled, dg.SkipReason) and cooled.skip_message.startswith("cooldown")
    events = [(r["event"], r["target"]) for r in _audit(settings)]
    assert events == [
        ("retrain_requested", f"experiment/{NAME}"),
        ("retrain_skipped", f"experiment/{NAME}"),
    ]
    assert _audit(settings)[-1]["details"]["reason"].startswith("cooldown")


def test_performance_drop_triggers_and_small_windows_skip(world):
    settings, instance, resources = world
    spec = _spec(performance_tolerance=0.05)
    _report(instance, lifecycle.DRIFT, window="2026-11-20", drift_share=0.05, rows=5000)
    _report(
        instance,
        lifecycle.PERFORMANCE,
        window="2026-11-20",
        metric="roc_auc",
        drop=0.12,
        labelled_rows=3000,
    )
    result, _ = _evaluate(spec, instance, resources)
    assert isinstance(result, dg.RunRequest)
    assert result.tags["aurora/trigger"] == "performance"

    other = Settings(home=settings.root / "other")
    from tests.factories import resources_for

    fresh = dg.DagsterInstance.ephemeral()
    _report(fresh, lifecycle.DRIFT, window="2026-11-20", drift_share=0.9, rows=300)
    skipped, _ = _evaluate(spec, fresh, resources_for(other))
    assert isinstance(skipped, dg.SkipReason)
    assert "not enough new data: 300 rows" in skipped.skip_message
    assert _audit(other)[-1]["event"] == "retrain_skipped"
