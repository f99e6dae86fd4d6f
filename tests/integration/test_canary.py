"""The canary controller on a prediction log written with the serving schema: a good challenger
is stepped up and promoted, a bad one rolled back, every step recorded and audited; the Dagster
sensor runs the same engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from aurora_pipelines.deploy import release, routing
from aurora_pipelines.deploy.canary import canary_tick, evaluate_canary
from aurora_pipelines.deploy.release import ReleaseContext
from aurora_pipelines.serving.prediction_log import (
    COLUMNS,
    PARTITION_COLUMN,
    PREDICTION_LOG_SCHEMA,
    prediction_log_path,
)
from aurora_pipelines.specs import CanarySpec
from tests.factories import approve, dagster_home, release_world

SPEC = CanarySpec(steps=[0.1, 0.5, 1.0], min_requests=150, window_minutes=30)


def answers(
    role: str,
    version: str,
    n: int,
    *,
    seed: int,
    error_rate: float = 0.0,
    latency_ms: float = 4.0,
    score_shift: float = 0.0,
    ts: datetime | None = None,
    entity_offset: int = 0,
) -> pd.DataFrame:
    """`n` single-record answers as the scoring service logs them."""
    rng = np.random.default_rng(seed)
    ts = ts or datetime.now(UTC)
    errors = rng.random(n) < error_rate
    score = np.clip(rng.beta(2, 8, n) + score_shift, 0, 1)
    frame = pd.DataFrame(
        {
            "request_id": [f"{role}-{seed}-{i}" for i in range(n)],
            "record_index": np.zeros(n, dtype="int32"),
            "entity_id": [str(entity_offset + i) for i in range(n)],
            "experiment": "credit_canary",
            "model_name": "credit_canary",
            "model_version": version,
            "role": role,
            "served": True,
            "status": np.where(errors, "error", "ok"),
            "error": np.where(errors, "boom", None),
            "score": np.where(errors, np.nan, score),
            "prediction": np.where(errors, np.nan, (score >= 0.5).astype(float)),
            "latency_ms": rng.gamma(4, latency_ms / 4, n),
            "inputs": json.dumps({"x": 1}),
            "ts": [ts + timedelta(microseconds=i) for i in range(n)],
        }
    )
    frame[PARTITION_COLUMN] = frame["ts"].dt.strftime("%Y-%m-%d")
    return frame[COLUMNS]


def append_log(path: Path, frame: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(frame, schema=PREDICTION_LOG_SCHEMA, preserve_index=False)
    write_deltalake(str(path), table, mode="append", partition_by=[PARTITION_COLUMN])


def test_evaluation_names_each_breach_and_waits_for_enough_answers():
    now = datetime.now(UTC)
    started = now - timedelta(minutes=5)
    champion = answers("champion", "1", 400, seed=1, error_rate=0.01)

    def judge(challenger: pd.DataFrame):
        log = pd.concat([champion, challenger], ignore_index=True)
        kwargs = dict(champion="1", challenger="2", share=0.1, step_started=started, spec=SPEC)
        return evaluate_canary(log, now=now, **kwargs)

    waiting = judge(answers("challenger", "2", 100, seed=2))
    assert waiting.decision == "wait" and "100 of 150" in waiting.reasons[0]
    good = judge(answers("challenger", "2", 200, seed=3, error_rate=0.01))
    assert good.decision == "advance" and good.next_share == 0.5
    assert good.score_psi is not None and good.score_psi < SPEC.max_score_psi
    errors = judge(answers("challenger", "2", 200, seed=4, error_rate=0.2))
    assert errors.decision == "rollback" and errors.reasons[0].startswith("breach: error rate")
    slow = judge(answers("challenger", "2", 200, seed=5, latency_ms=20))
    assert slow.decision == "rollback" and "breach: p99 latency" in slow.summary
    shifted = judge(answers("challenger", "2", 200, seed=6, score_shift=0.4))
    assert shifted.decision == "rollback" and "breach: score PSI" in shifted.summary
    # Answers from before the step began do not count for it.
    old = answers("challenger", "2", 300, seed=7, ts=started - timedelta(minutes=1))
    assert judge(old).decision == "wait"


def test_accuracy_is_compared_where_labels_exist():
    now = datetime.now(UTC)
    champion = answers("champion", "1", 300, seed=1)
    challenger = answers("challenger", "2", 300, seed=2, entity_offset=10_000)
    log = pd.concat([champion, challenger], ignore_index=True)
    # Labels agree with the champion everywhere and with the challenger on about half.
    labels = pd.DataFrame(
        {
            "entity_id": log["entity_id"],
            "label": np.where(
                log["role"] == "champion",
                log["prediction"],
                np.where(np.arange(len(log)) % 2 == 0, log["prediction"], 1 - log["prediction"]),
            ),
        }
    )
    kwargs = dict(champion="1", challenger="2", share=0.5, spec=SPEC, now=now)
    result = evaluate_canary(log, step_started=now - timedelta(minutes=1), labels=labels, **kwargs)
    assert result.champion.accuracy == pytest.approx(1.0)
    assert result.challenger.accuracy == pytest.approx(0.5, abs=0.01)
    assert result.decision == "rollback" and "breach: accuracy" in result.summary


@pytest.fixture
def canary_world(tmp_path: Path, governance_url: str):
    with release_world(tmp_path, governance_url, "credit_canary", 2) as world:
        tracking_uri, store, (v1, v2) = world
        for v in (v1, v2):
            approve(store, tracking_uri, "credit_canary", v)
        manager = ReleaseContext(
            tracking_uri, store, "release_manager_dave", "c", "credit_canary", "credit_canary"
        )
        release.promote(manager, v1)
        release.start_canary(manager, SPEC.steps[0], v2)
        controller = ReleaseContext(
            tracking_uri, store, "canary_controller", "t", "credit_canary", "credit_canary"
        )
        log = prediction_log_path(tmp_path / "lake", "credit_canary")
        yield controller, store, log, v1, v2


def test_a_good_challenger_is_stepped_up_then_promoted(canary_world):
    ctx, store, log, v1, v2 = canary_world
    seed = 0
    shares = []
    while routing.read_routing(ctx.tracking_uri, ctx.model_name).challenger:
        seed += 1
        assert seed < 10, "controller never finished"
        append_log(log, answers("champion", v1, 300, seed=seed * 10))
        evaluation, record = canary_tick(ctx, prediction_log=log, labels=None, spec=SPEC)
        assert evaluation.decision == "wait"  # the challenger has not answered yet at this step
        append_log(log, answers("challenger", v2, 200, seed=seed * 10 + 1))
        evaluation, record = canary_tick(ctx, prediction_log=log, labels=None, spec=SPEC)
        assert evaluation.decision in ("advance", "promote"), evaluation.summary
        shares.append(record.challenger_share if evaluation.decision == "advance" else 1.0)
    assert shares == [0.5, 1.0]
    state = routing.read_routing(ctx.tracking_uri, ctx.model_name)
    assert (state.champion, state.fallback, state.challenger) == (v2, v1, None)
    actions = [r.action for r in store.list_deployments("credit_canary")]
    assert actions == ["canary_promote", "canary_step", "canary_start", "promote"]
    step = store.read_audit(event="deployment_canary_step")[0]
    assert step["actor"] == "canary_controller"
    assert "score PSI" in step["details"]["reason"]
    assert step["details"]["details"]["metrics"]["challenger"]["answers"] == 200


def test_a_bad_challenger_is_rolled_back_automatically(canary_world):
    ctx, store, log, v1, v2 = canary_world
    append_log(log, answers("champion", v1, 300, seed=1))
    append_log(log, answers("challenger", v2, 200, seed=2, error_rate=0.15))
    evaluation, record = canary_tick(ctx, prediction_log=log, labels=None, spec=SPEC)
    assert evaluation.decision == "rollback"
    assert record.action == "canary_rollback" and record.challenger_version is None
    state = routing.read_routing(ctx.tracking_uri, ctx.model_name)
    assert (state.champion, state.challenger, state.challenger_share) == (v1, None, 0.0)
    (row,) = store.read_audit(event="deployment_canary_rollback")
    assert "breach: error rate" in row["details"]["reason"]
    assert row["details"]["details"]["rolled_back_version"] == v2
    # Nothing left to control.
    assert canary_tick(ctx, prediction_log=log, labels=None, spec=SPEC) == (None, None)


def test_canary_sensor_launches_a_step_run_that_applies_the_decision(canary_world, tmp_path):
    import dagster as dg

    from aurora_pipelines.defs.sensors.canary import build_canary_job, build_canary_sensor
    from aurora_pipelines.settings import Settings
    from aurora_pipelines.specs import load_spec

    ctx, store, _, v1, v2 = canary_world
    home = tmp_path / "home"
    settings = Settings(home=home, governance_url=store.url, mlflow_tracking_uri=ctx.tracking_uri)
    spec = load_spec(Path(__file__).parents[2] / "experiments" / "credit_default.yaml")
    spec = spec.model_copy(
        update={
            "name": "credit_canary",
            "deployment": spec.deployment.model_copy(update={"canary": SPEC}),
        }
    )
    log = prediction_log_path(settings.lake_dir, "credit_canary")
    append_log(log, answers("champion", v1, 300, seed=1))
    append_log(log, answers("challenger", v2, 200, seed=2))
    job = build_canary_job(spec)
    sensor = build_canary_sensor(spec, job)
    _, instance, resources = dagster_home(settings)
    before = routing.read_routing(ctx.tracking_uri, "credit_canary").challenger_share
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        request = sensor(context)
    # The tick itself changes nothing: it asks for a run.
    assert isinstance(request, dg.RunRequest)
    assert request.tags["aurora/canary_decision"] == "advance"
    assert routing.read_routing(ctx.tracking_uri, "credit_canary").challenger_share == before
    # The same state seen again asks for the same run (Dagster de-duplicates by run key).
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        assert sensor(context).run_key == request.run_key

    result = job.execute_in_process(resources=resources, instance=instance, tags=request.tags)
    assert result.success
    assert routing.read_routing(ctx.tracking_uri, "credit_canary").challenger_share == 0.5
