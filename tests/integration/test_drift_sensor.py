"""The drift sensor on a real Dagster instance, governance store and Delta series: it requests
retraining from a drift or performance window, skips with a reason (cooldown, open candidate,
too little data, within thresholds), and audits each decision. It judges the windows in the
engine's Delta series — every one appended since its last tick — not materialization
metadata, which each test also reports (as the assets do) to show it is not what counts."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from aurora_pipelines import lifecycle
from aurora_pipelines.errors import DataError
from aurora_pipelines.settings import Settings
from tests.factories import DagsterHome, dagster_home, home_settings, make_spec

NAME = "sensor_exp"


SENSOR_SPEC = {"monitoring": {"min_new_rows": 1000, "retrain_cooldown_hours": 24}}


@pytest.fixture
def world(tmp_path: Path) -> DagsterHome:
    return dagster_home(home_settings(tmp_path))


def _drift_window(
    settings, instance, window: str, share: float, rows: int, metadata: dict | None = None
) -> None:
    """A drift window as monitor/drift writes it: rows in the Delta series (one per feature)
    and a materialization (whose metadata is `metadata`, default the same values)."""
    from aurora_pipelines.monitoring.series import append_window

    features = pd.DataFrame({"column": ["credit_score", "income"], "psi": [0.3, 0.01]})
    features["rows"] = rows
    path = settings.lake_dir.joinpath(NAME, *lifecycle.DRIFT)
    append_window(path, features, window=window, model_version="1", drift_share=share)
    values = metadata or {"window": window, "drift_share": share, "rows": rows}
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=[NAME, *lifecycle.DRIFT], metadata=values)
    )


def _performance_window(settings, instance, window: str, drop: float, rows: int) -> None:
    from aurora_pipelines.monitoring.performance import WindowPerformance
    from aurora_pipelines.monitoring.series import append_performance

    result = WindowPerformance(
        window=window,
        metric="roc_auc",
        value=0.8 - drop,
        training_value=0.8,
        change=-drop,
        drop=drop,
        tolerance=0.05,
        degraded=drop > 0.05,
        labelled_rows=rows,
    )
    append_performance(settings.lake_dir.joinpath(NAME, *lifecycle.PERFORMANCE), result)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=[NAME, *lifecycle.PERFORMANCE],
            metadata={"window": window, "metric": "roc_auc", "drop": drop, "labelled_rows": rows},
        )
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
    spec = make_spec(NAME, SENSOR_SPEC)
    _drift_window(settings, instance, "2026-11-20", 0.5, 5000)
    first, cursor = _evaluate(spec, instance, resources)
    assert isinstance(first, dg.RunRequest)
    assert first.tags["aurora/trigger"] == "drift"
    again, cursor = _evaluate(spec, instance, resources, cursor)
    assert isinstance(again, dg.SkipReason) and "no new" in again.skip_message
    _drift_window(settings, instance, "2026-11-21", 0.6, 5000)
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
    spec = make_spec(NAME, SENSOR_SPEC, monitoring={"performance_tolerance": 0.05})
    _drift_window(settings, instance, "2026-11-20", 0.05, 5000)
    _performance_window(settings, instance, "2026-11-20", 0.12, 3000)
    result, _ = _evaluate(spec, instance, resources)
    assert isinstance(result, dg.RunRequest)
    assert result.tags["aurora/trigger"] == "performance"

    other, fresh, other_resources = dagster_home(home_settings(settings.root / "other"))
    _drift_window(other, fresh, "2026-11-20", 0.9, 300)
    skipped, _ = _evaluate(spec, fresh, other_resources)
    assert isinstance(skipped, dg.SkipReason)
    assert "not enough new data: 300 rows" in skipped.skip_message
    assert _audit(other)[-1]["event"] == "retrain_skipped"


def test_every_window_appended_between_two_ticks_is_judged(world):
    settings, instance, resources = world
    spec = make_spec(NAME, SENSOR_SPEC)
    _drift_window(settings, instance, "2026-11-20", 0.05, 5000)
    quiet, cursor = _evaluate(spec, instance, resources)
    assert isinstance(quiet, dg.SkipReason) and "within thresholds" in quiet.skip_message
    # A backfill of an earlier, drifted day, then today's quiet window, before the next tick.
    _drift_window(settings, instance, "2026-11-18", 0.6, 5000)
    _drift_window(settings, instance, "2026-11-21", 0.05, 5000)
    result, _ = _evaluate(spec, instance, resources, cursor)
    assert isinstance(result, dg.RunRequest)
    assert "window 2026-11-18" in result.tags["aurora/retrain_reason"]
    judged = _audit(settings)[-1]["details"]["signals"]
    assert [s["window"] for s in judged] == ["2026-11-18", "2026-11-21"]


def test_a_renamed_metadata_key_does_not_switch_retraining_off(world):
    settings, instance, resources = world
    renamed = {"window": "2026-11-20", "share": 0.6, "row_count": 5000}
    _drift_window(settings, instance, "2026-11-20", 0.6, 5000, metadata=renamed)
    result, _ = _evaluate(make_spec(NAME, SENSOR_SPEC), instance, resources)
    assert isinstance(result, dg.RunRequest)
    assert result.tags["aurora/drift_share"] == "0.600"


def test_a_series_without_the_drift_share_is_an_error_not_a_zero(world):
    from aurora_pipelines.monitoring.series import append_rows

    settings, instance, resources = world
    rows = pd.DataFrame({"window": ["2026-11-20"], "computed_at": [pd.Timestamp.now()]})
    append_rows(settings.lake_dir.joinpath(NAME, *lifecycle.DRIFT), rows.assign(rows=5000), None)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=[NAME, *lifecycle.DRIFT], metadata={"rows": 5000})
    )
    with pytest.raises(DataError, match="lacks column\\(s\\) drift_share"):
        _evaluate(make_spec(NAME, SENSOR_SPEC), instance, resources)
