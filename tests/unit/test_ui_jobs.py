"""What the Dagster UI is given: an unpartitioned lifecycle job (no partition prompt), CLI runs
recorded under the experiment's job, and an instance without telemetry or the community modal."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from aurora_pipelines import lifecycle
from aurora_pipelines.settings import REPO_DIR, Settings
from aurora_pipelines.specs import find_spec


def test_lifecycle_job_is_unpartitioned_and_cli_runs_take_the_experiment_jobs(tmp_path: Path):
    from aurora_pipelines.defs.definitions import build_definitions
    from aurora_pipelines.defs.runner import _job_for

    settings = Settings(home=tmp_path, experiments_dir=REPO_DIR / "experiments")
    defs = build_definitions(settings)
    defs.get_repository_def()  # names unique across jobs and ops: the location loads
    spec = find_spec(settings.experiments_dir, "credit_default")
    stages = (
        lifecycle.RAW,
        lifecycle.BATCH_SCORES,
        lifecycle.STAGING_APPROVAL,
    )
    key = {stage: dg.AssetKey(spec.key(*stage)) for stage in stages}
    job = defs.resolve_job_def("credit_default__lifecycle")
    assert job.partitions_def is None
    # UI launches run in one process: one Spark session, one JVM on the embedded metastore.
    assert job.executor_def.name == "in_process"
    assert key[lifecycle.BATCH_SCORES] not in job.asset_layer.executable_asset_keys
    assert key[lifecycle.STAGING_APPROVAL] in job.asset_layer.executable_asset_keys

    assert _job_for(defs, spec, [key[lifecycle.RAW]]).name == "credit_default__lifecycle"
    mixed = [key[lifecycle.RAW], key[lifecycle.BATCH_SCORES]]
    assert _job_for(defs, spec, mixed).name == "credit_default__lifecycle_daily"
    assert defs.resolve_job_def("create_experiment").name == "create_experiment"
    # Today's partition without a picker: an unpartitioned job that runs it (score_today.py).
    assert defs.resolve_job_def("credit_default__score_today").partitions_def is None


def test_the_generated_instance_sends_no_telemetry_and_shows_no_onboarding(
    tmp_path: Path, monkeypatch
):
    import os

    from aurora_pipelines.defs.runner import instance_for

    # instance_for exports DAGSTER_HOME: restored after the test.
    monkeypatch.setenv("DAGSTER_HOME", os.environ.get("DAGSTER_HOME", str(tmp_path)))
    instance = instance_for(Settings(home=tmp_path))
    settings = instance.get_settings("nux")
    assert settings == {"enabled": False}
    assert instance.get_settings("telemetry") == {"enabled": False}
