"""The whole lifecycle on the cluster profile: runs queued on a PostgreSQL Dagster instance and
executed by `dagster-daemon`, Spark work on standalone executors in other JVMs, MLflow behind its
server (PostgreSQL + S3), governance on PostgreSQL, bundles on S3, identities by token. After
the champion, a drifted batch: the daemons alone (new-data sensor, automation, drift sensor)
score it, detect drift and run the retraining, whose candidate waits for its approvals.

Needs the stack: `python deploy/cluster/stack.py up --state DIR` and AURORA_CLUSTER_STATE=DIR
(`.ci/run` and `make demo-cluster` do both); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from aurora_pipelines.settings import REPO_DIR

STATE = os.environ.get("AURORA_CLUSTER_STATE")
pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        not STATE or not (Path(STATE) / "cluster.env").exists(),
        reason="no cluster stack: run `python deploy/cluster/stack.py up` and set "
        "AURORA_CLUSTER_STATE (`make demo-cluster` does both)",
    ),
]
EXPERIMENT = "credit_default"
RUN_TIMEOUT = 900


def _stack_env() -> dict[str, str]:
    env = {}
    for line in (Path(STATE) / "cluster.env").read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = shlex.split(value)[0] if value else ""
    return env


def _stack() -> dict:
    return json.loads((Path(STATE) / "stack.json").read_text())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> dict[str, str]:
    """The process environment of a cluster client (the operator's shell after `source`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "DAGSTER_"))}
    env.update(_stack_env())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR), env.get("PYTHONPATH")]))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg"))  # no login file of the host
    return env


def aurora(env: dict[str, str], *args: str, token: str | None = None) -> str:
    call_env = {**env, **({"AURORA_TOKEN": token} if token else {})}
    done = subprocess.run(
        [sys.executable, "-m", "aurora_pipelines.cli", *args],
        env=call_env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO_DIR,
    )
    assert done.returncode == 0, f"aurora {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _instance(env: dict[str, str]):
    import dagster as dg

    os.environ["AURORA_DAGSTER_PG_URL"] = env["AURORA_DAGSTER_PG_URL"]
    return dg.DagsterInstance.from_config(env["DAGSTER_HOME"])


def _store(env: dict[str, str]):
    from aurora_pipelines.governance import GovernanceStore, load_policy

    return GovernanceStore(
        env["AURORA_GOVERNANCE_URL"],
        load_policy(Path(env["AURORA_POLICY"])),
        env["AURORA_AUDIT_HEAD"],
    )


def _wait_for_run(instance, job_name: str, since: float):
    """The newest run of `job_name` created after `since`, once finished."""
    import dagster as dg

    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        runs = [
            r
            for r in instance.get_run_records(dg.RunsFilter(job_name=job_name))
            if r.create_timestamp.timestamp() >= since
        ]
        if runs and runs[0].dagster_run.is_finished:
            return runs[0].dagster_run
        time.sleep(3)
    raise AssertionError(f"no finished run of {job_name} within {RUN_TIMEOUT} s")


def _wait_for_sensor_run(instance, job_name: str, sensor: str, since: float, timeout: float):
    """The first finished run of `job_name` that `sensor` launched after `since`."""
    import dagster as dg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [
            r.dagster_run
            for r in instance.get_run_records(
                dg.RunsFilter(job_name=job_name, tags={"dagster/sensor_name": sensor})
            )
            if r.create_timestamp.timestamp() >= since
        ]
        if runs and runs[-1].is_finished:
            return runs[-1]
        time.sleep(3)
    raise AssertionError(f"{sensor} launched no finished run of {job_name} in {timeout:.0f} s")


def _pending(store, gate: str):
    pending = store.list_requests(experiment=EXPERIMENT, gate=gate, status="pending")
    assert len(pending) == 1, pending
    return pending[0]


@pytest.fixture(scope="module")
def lifecycle(cluster: dict[str, str]) -> dict:
    """Seed, launch the lifecycle through the webserver, approve twice by token; the daemon
    runs everything (the approval sensor launches each promotion)."""
    from dagster_graphql import DagsterGraphQLClient

    # A stable first batch: drift arrives later, once a champion serves (`drift_retrain`).
    aurora(
        cluster, "seed", "--rows", "6000", "--batch-rows", "2000", "--seed", "7", "--no-batch-drift"
    )
    store = _store(cluster)
    tokens = {
        u: store.create_token(u, created_by="admin_erin")[0] for u in ("validator_bob", "mrm_carol")
    }
    instance = _instance(cluster)
    port = _stack()["ports"]["dagster_ui"]
    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    started = time.time() - 1
    client.submit_job_execution(
        f"{EXPERIMENT}__lifecycle",
        tags={"aurora/actor": "ds_alice", "dagster/partition": today},
    )
    runs = {"lifecycle": _wait_for_run(instance, f"{EXPERIMENT}__lifecycle", started)}
    staging = _pending(store, "staging")
    started = time.time() - 1
    aurora(
        cluster,
        "approvals",
        "approve",
        str(staging.id),
        "--comment",
        "validated on the cluster",
        token=tokens["validator_bob"],
    )
    runs["staging"] = _wait_for_run(instance, f"{EXPERIMENT}__promote_staging", started)
    production = _pending(store, "production")
    started = time.time() - 1
    aurora(
        cluster,
        "approvals",
        "approve",
        str(production.id),
        "--comment",
        "MRM sign-off",
        token=tokens["mrm_carol"],
    )
    runs["production"] = _wait_for_run(instance, f"{EXPERIMENT}__promote_production", started)
    return {"runs": runs, "store": store, "requests": (staging, production)}


@pytest.fixture(scope="module")
def drift_retrain(lifecycle: dict, cluster: dict[str, str]) -> dict:
    """After the champion: a drifted batch (and drifted labelled rows) arrives. Only daemons act
    from here: the new-data sensor refreshes the batch, declarative automation scores it and
    reports drift, the drift sensor requests retraining, the daemon runs it."""
    from mlflow import MlflowClient

    _, production = lifecycle["requests"]
    client = MlflowClient(tracking_uri=cluster["AURORA_MLFLOW_TRACKING_URI"])
    champion = client.get_model_version_by_alias(production.model_name, "champion").version
    started = time.time() - 1
    aurora(
        cluster, "seed", "--inject-drift", "--batch-rows", "2000", "--labelled-rows", "2000",
        "--seed", "7",
    )  # fmt: skip
    instance = _instance(cluster)
    run = _wait_for_sensor_run(
        instance, f"{EXPERIMENT}__retrain", f"{EXPERIMENT}__drift_sensor", started,
        # A chain of daemon ticks and runs: new data (120 s), refresh, automation, drift (60 s).
        timeout=2 * RUN_TIMEOUT,
    )  # fmt: skip
    return {"run": run, "champion_before": champion, "since": started}


def _materialized_in(instance, run, *stage: str) -> bool:
    import dagster as dg

    event = instance.get_latest_materialization_event(dg.AssetKey([EXPERIMENT, *stage]))
    return event is not None and event.run_id == run.run_id


def test_promotions_are_launched_by_the_approval_sensor_and_run_by_the_daemon(lifecycle, cluster):
    import dagster as dg

    instance, runs = _instance(cluster), lifecycle["runs"]
    # Each run stops at the next gate (its blocking check fails until someone approves) after
    # materializing everything in front of it; the last one runs through.
    assert _materialized_in(instance, runs["lifecycle"], "train", "model")
    assert _materialized_in(instance, runs["staging"], "deploy", "staging")
    assert _materialized_in(instance, runs["staging"], "serve", "uat_scores")
    assert runs["production"].status == dg.DagsterRunStatus.SUCCESS
    assert _materialized_in(instance, runs["production"], "deploy", "production")
    for name in ("staging", "production"):
        assert runs[name].tags.get("dagster/sensor_name") == "approval_sensor", name
        assert runs[name].tags.get("aurora/actor") == "ds_alice"
    staging, production = lifecycle["requests"]
    assert runs["staging"].tags["aurora/approval_request_id"] == str(staging.id)
    assert runs["production"].tags["aurora/approved_by"] == "mrm_carol"


def test_spark_work_ran_on_executors_in_the_workers_jvms(lifecycle):
    spark_ui = _stack()["urls"]["spark"]
    with urllib.request.urlopen(f"{spark_ui}/json/", timeout=10) as response:
        master = json.load(response)
    apps = master["completedapps"] + master["activeapps"]
    # The seed, the lifecycle's run worker and each promotion's: one driver per process.
    assert len(apps) >= 4, apps
    workers = [w for w in master["workers"] if w["state"] == "ALIVE"]
    assert workers
    work_dirs = [Path(STATE) / p for p in os.listdir(STATE) if p.startswith("spark-work-")]
    # Executors are launched by the workers, each app's stderr in a worker's work directory.
    executor_logs = [p for d in work_dirs for p in d.glob("app-*/*/stderr")]
    assert len(executor_logs) >= len(apps) - 1
    # Batch scoring's mapInPandas ran Python workers inside those executors.
    assert any("Starting Python task" in p.read_text(errors="replace") for p in executor_logs)


def test_champion_lives_in_the_mlflow_server_and_its_bundle_on_s3(lifecycle, cluster):
    import boto3
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=cluster["AURORA_MLFLOW_TRACKING_URI"])
    _, production = lifecycle["requests"]
    champion = client.get_model_version_by_alias(production.model_name, "champion")
    assert champion.version == str(production.model_version)
    assert client.get_model_version_by_alias(production.model_name, "staging")
    # Proxied artifacts: the run's model is in the server's S3 destination.
    s3 = boto3.client(
        "s3",
        endpoint_url=cluster["AWS_ENDPOINT_URL_S3"],
        region_name="us-east-1",
        aws_access_key_id=cluster["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=cluster["AWS_SECRET_ACCESS_KEY"],
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="aurora").get("Contents", [])]
    assert any(k.startswith("mlflow/") for k in keys), keys[:10]
    assert any(k.startswith("bundles/") for k in keys), keys[:10]


def test_batch_scores_and_drift_are_in_the_lake_and_the_audit_chain_verifies(lifecycle, cluster):
    from aurora_pipelines.lake import delta

    lake = Path(cluster["AURORA_HOME"]) / "lake" / EXPERIMENT
    scores = delta.read_pandas(lake / "serve" / "batch_scores")
    assert len(scores) > 0 and scores["role"].eq("champion").any()
    assert delta.version(lake / "monitor" / "drift") >= 0
    # The chain on PostgreSQL, checked against the head file outside it (AURORA_AUDIT_HEAD).
    assert "audit chain intact" in aurora(cluster, "audit", "verify")
    decided = [
        r for r in lifecycle["store"].read_audit() if r["actor"] in ("validator_bob", "mrm_carol")
    ]
    assert decided and all(r["details"].get("auth") == "token" for r in decided), decided


def test_drift_retraining_is_launched_by_the_drift_sensor_and_run_by_the_daemon(
    drift_retrain, lifecycle, cluster
):
    import dagster as dg
    from mlflow import MlflowClient

    instance, run = _instance(cluster), drift_retrain["run"]
    # A tick may see the drift window alone or with the labelled performance one.
    assert run.tags["aurora/trigger"] in ("drift", "performance"), run.tags
    # The drifted window was scored by a run the daemon launched on its own (the automation
    # sensor), after the drift arrived.
    drift = instance.get_latest_materialization_event(dg.AssetKey([EXPERIMENT, "monitor", "drift"]))
    assert drift.timestamp >= drift_retrain["since"]
    assert float(drift.asset_materialization.metadata["drift_share"].value) > 0.3
    scoring = instance.get_run_by_id(drift.run_id)
    assert scoring.tags.get("dagster/sensor_name") == "aurora_automation", scoring.tags
    assert _materialized_in(instance, run, "train", "model")
    # A new candidate: a new registered version, awaiting its staging approval; the champion
    # does not change without the approvals.
    store = lifecycle["store"]
    pending = _pending(store, "staging")
    assert int(pending.model_version) > int(drift_retrain["champion_before"])
    client = MlflowClient(tracking_uri=cluster["AURORA_MLFLOW_TRACKING_URI"])
    assert client.get_model_version(pending.model_name, pending.model_version)
    champion = client.get_model_version_by_alias(pending.model_name, "champion")
    assert champion.version == drift_retrain["champion_before"]
    requested = [
        r
        for r in store.read_audit(event="retrain_requested")
        if r["target"] == f"experiment/{EXPERIMENT}"
    ]
    assert requested and requested[-1]["actor"] == "drift_sensor"


def test_the_queued_run_coordinator_limits_concurrency(cluster):
    from dagster._core.run_coordinator import QueuedRunCoordinator

    coordinator = _instance(cluster).run_coordinator
    assert isinstance(coordinator, QueuedRunCoordinator)
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 2
    assert {
        "key": "aurora/experiment",
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 1,
    } in queue.tag_concurrency_limits
