"""The new-data sensor: a source whose data differs from what its raw copy was ingested from
refreshes that copy once; a source with no raw copy yet waits for the lifecycle run."""

import dagster as dg
import pandas as pd

from aurora_pipelines.defs.jobs import build_experiment_jobs
from aurora_pipelines.defs.sensors.new_data import build_new_data_sensor
from aurora_pipelines.lake import delta
from aurora_pipelines.settings import Settings
from aurora_pipelines.sources.fingerprint import COMMIT_KEY, source_fingerprint
from tests.factories import make_spec, resources_for


def _tick(sensor, resources, cursor):
    """One evaluation as the daemon runs it: (run requests, new cursor, skip message)."""
    with dg.build_sensor_context(resources=resources, cursor=cursor) as context:
        data = sensor.evaluate_tick(context)
    return data.run_requests, data.cursor, data.skip_message


def _sources(tmp_path):
    training, batch = tmp_path / "src" / "loans", tmp_path / "src" / "batch"
    delta.write_table(training, pd.DataFrame({"application_id": [1, 2], "default_flag": [0, 1]}))
    delta.write_table(batch, pd.DataFrame({"application_id": [3]}))
    spec = make_spec(
        "fresh_data",
        source={"kind": "delta", "path": str(training)},
        scoring={"source": {"kind": "delta", "path": str(batch)}},
    )
    settings = Settings(home=tmp_path / "home")
    sensor = build_new_data_sensor(spec, build_experiment_jobs(spec).refresh)
    return spec, settings, sensor, resources_for(settings), training, batch


def _ingest(settings: Settings, spec, stage: str, source, stamped: bool = True) -> None:
    """What the raw stage writes: a copy, stamped with the fingerprint it was read at."""
    fingerprint = source_fingerprint(
        spec.source if stage == "raw" else spec.scoring_source, settings
    )
    delta.write_table(
        settings.layout.table(spec.name, stage),
        delta.read_pandas(source),
        commit_info={COMMIT_KEY: fingerprint} if stamped else None,
    )


def test_a_changed_source_refreshes_only_its_own_raw_table(tmp_path):
    spec, settings, sensor, resources, training, batch = _sources(tmp_path)
    _ingest(settings, spec, "raw", training)
    _ingest(settings, spec, "raw_batch", batch)

    # The raw copies hold the sources' current data: nothing to do, even on a first look.
    requests, cursor, first = _tick(sensor, resources, None)
    assert requests == [] and "first look" in str(first)
    requests, cursor, _ = _tick(sensor, resources, cursor)
    assert requests == []

    delta.write_table(batch, pd.DataFrame({"application_id": [4, 5]}), mode="append")
    requests, cursor, _ = _tick(sensor, resources, cursor)
    assert [r.asset_selection for r in requests] == [[dg.AssetKey(["fresh_data", "raw_batch"])]]
    assert requests[0].tags["aurora/trigger"] == "new_data"
    # Once the refresh ingested it, the next tick asks for nothing.
    _ingest(settings, spec, "raw_batch", batch)
    assert _tick(sensor, resources, cursor)[0] == []

    delta.write_table(training, pd.DataFrame({"application_id": [9], "default_flag": [1]}))
    requests, _, _ = _tick(sensor, resources, cursor)
    assert requests[0].asset_selection == [
        dg.AssetKey(["fresh_data", "raw"]),
        dg.AssetKey(["fresh_data", "eda", "profile"]),
    ]


def test_a_source_without_a_raw_copy_is_left_to_the_lifecycle_run(tmp_path):
    # A new experiment: its first ingest is the person's lifecycle run, which a refresh queued
    # ahead of it (one run per experiment) would only delay.
    spec, settings, sensor, resources, training, batch = _sources(tmp_path)
    _, cursor, _ = _tick(sensor, resources, None)
    delta.write_table(batch, pd.DataFrame({"application_id": [4]}), mode="append")
    delta.write_table(training, pd.DataFrame({"application_id": [9], "default_flag": [1]}))
    assert _tick(sensor, resources, cursor)[0] == []


def test_a_raw_copy_from_before_the_stamp_falls_back_to_the_cursor(tmp_path):
    spec, settings, sensor, resources, training, batch = _sources(tmp_path)
    _ingest(settings, spec, "raw_batch", batch, stamped=False)
    requests, cursor, _ = _tick(sensor, resources, None)
    assert requests == []
    delta.write_table(batch, pd.DataFrame({"application_id": [4]}), mode="append")
    requests, _, _ = _tick(sensor, resources, cursor)
    assert [r.asset_selection for r in requests] == [[dg.AssetKey(["fresh_data", "raw_batch"])]]


def test_a_source_that_cannot_be_fingerprinted_is_not_refreshed(tmp_path):
    spec = make_spec(
        "jdbc_data",
        source={"kind": "jdbc", "url": "jdbc:postgresql://127.0.0.1:5432/db", "table": "loans"},
    )
    sensor = build_new_data_sensor(spec, build_experiment_jobs(spec).refresh)
    resources = resources_for(Settings(home=tmp_path / "home"))
    _, cursor, _ = _tick(sensor, resources, None)
    assert _tick(sensor, resources, cursor)[0] == []
