"""Faults survived: PostgreSQL restarted under the governance API, a full disk under
AURORA_HOME, kill -9 of a process in the middle of a Delta commit, two writers racing on one
Delta table, and the MLflow store gone mid-run. After each: a clear error, nothing half
written, and a rerun that succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pytest

from aurora_pipelines.errors import StorageFull
from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.governance.api import create_app
from aurora_pipelines.lake import delta
from aurora_pipelines.settings import DEFAULT_POLICY
from tests.asgi_server import ServedApp
from tests.factories import cli_error
from tests.governance_server import free_port
from tests.postgres import _binary, fresh_database, private_cluster

DIGEST = "3" * 64


# --- PostgreSQL restarted under the governance API ---------------------------------------


@pytest.fixture(scope="module")
def cluster():
    if _binary("pg_ctl") is None or _binary("initdb") is None:
        pytest.skip("no PostgreSQL server binaries (apt-get install postgresql)")
    with private_cluster() as running:
        yield running


@pytest.fixture
def governed_api(cluster) -> Iterator[tuple[GovernanceStore, str, httpx.Client]]:
    with fresh_database(cluster.url) as url:
        policy = load_policy(DEFAULT_POLICY)
        mine, served = GovernanceStore(url, policy), GovernanceStore(url, policy)
        token, _ = mine.create_token("validator_bob", "validator_bob")
        try:
            with ServedApp(create_app(served)) as api:
                headers = {"Authorization": f"Bearer {token}"}
                with httpx.Client(base_url=api.url, headers=headers, timeout=30) as client:
                    yield mine, api.url, client
        finally:
            # The database must be up for fresh_database to drop it.
            cluster.start_if_stopped()
            served.dispose()
            mine.dispose()


def test_a_decision_while_postgres_is_down_is_a_clean_503_and_its_retry_is_recorded_once(
    cluster, governed_api
):
    store, _, client = governed_api
    request = store.request_approval("credit", "staging", "m", 3, DIGEST, "ds_alice")
    assert client.get("/api/v1/me").status_code == 200  # the server's pool holds a connection
    path = f"/api/v1/approvals/{request.id}/decision"
    decision = {"decision": "approve", "comment": "validated", "model_version": "3"}
    # A clean (fast) shutdown: the test cluster runs with synchronous_commit=off, so a crash
    # could lose commits the server already acknowledged, which is not the fault under test.
    cluster.stop(mode="fast")
    try:
        refused = client.post(path, json=decision, headers={"X-Correlation-ID": "corr-pg-1"})
    finally:
        cluster.start()
    assert refused.status_code == 503, refused.text
    assert refused.headers["Retry-After"] and "nothing was recorded" in refused.json()["detail"]
    assert store.get_request(request.id).status == "pending"
    # The retry, after the restart: the pool drops its dead connections and reconnects.
    answered = client.post(path, json=decision, headers={"X-Correlation-ID": "corr-pg-1"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "approved"
    decided = store.read_audit(event="approval_approved")
    assert [row["correlation_id"] for row in decided] == ["corr-pg-1"]
    assert store.verify_audit().ok


def test_a_restart_between_requests_is_invisible_to_the_caller(cluster, governed_api):
    store, _, client = governed_api
    request = store.request_approval("credit", "staging", "m", 4, DIGEST, "ds_alice")
    assert client.get("/api/v1/me").status_code == 200
    cluster.stop(mode="fast")
    cluster.start()
    response = client.post(
        f"/api/v1/approvals/{request.id}/decision",
        json={"decision": "reject", "comment": "not yet", "model_version": "4"},
    )
    assert response.status_code == 200, response.text
    assert store.get_request(request.id).status == "rejected"


# --- a full disk under AURORA_HOME -------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a real full disk (ENOSPC from the kernel), where mounting is allowed."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _rows(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"id": np.arange(n), "x": rng.random(n), "y": rng.random(n)})


def test_a_full_disk_is_a_clear_error_naming_the_path_and_the_table_keeps_its_version(
    tiny_disk,
):
    table = tiny_disk / "lake" / "exp" / "raw"
    assert delta.write_table(table, _rows(10)) == 0
    with pytest.raises(StorageFull) as exc:
        delta.write_table(table, _rows(300_000))  # ~7 MB of parquet on a 1 MiB disk
    message = str(exc.value)
    assert str(table) in message and "no space left" in message and "AURORA_HOME" in message
    assert delta.version(table) == 0 and len(delta.read_pandas(table)) == 10
    # Nothing half-written is left: only version 0's data file.
    assert len(list(table.glob("*.parquet"))) == 1
    assert delta.write_table(table, _rows(20)) == 1  # the rerun, once there is room


def test_the_cli_reports_a_full_disk_in_one_line(tiny_disk, home, capsys, monkeypatch):
    monkeypatch.setenv("AURORA_USER", "ds_alice")
    (tiny_disk / "filler").write_bytes(b"\0" * (1024 * 1024 - 8192))
    filler = tiny_disk / "more"
    with pytest.raises(OSError), filler.open("wb") as out:  # fill the last blocks
        while True:
            out.write(b"\0" * 4096)
            out.flush()
    target = tiny_disk / "audit.csv"
    home_store = GovernanceStore(home.governance_db_url, load_policy(DEFAULT_POLICY))
    for i in range(200):  # enough rows that the export needs more than the free bytes
        home_store.audit("run_started", "ds_alice", f"experiment/e{i}", {"pad": "x" * 200})
    home_store.dispose()
    err = cli_error(capsys, "audit", "export", "--output", str(target))
    assert "no space left" in err and str(target) in err and "AURORA_HOME" in err
    assert list(tiny_disk.glob("*audit*")) == []  # no half-written export, no temp file


# --- kill -9 in the middle of a Delta commit ---------------------------------------------

SLOW_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np, pyarrow as pa
    from aurora_pipelines.lake import delta

    table, marker = Path(sys.argv[1]), Path(sys.argv[2])
    schema = pa.schema([("id", pa.int64()), ("x", pa.float64()), ("y", pa.float64())])

    def batches():
        for i in range(1000):
            n = 50_000
            yield pa.record_batch(
                [np.arange(i * n, (i + 1) * n), np.random.rand(n), np.random.rand(n)],
                schema=schema,
            )
            if i == 2:
                marker.touch()  # data files are being written; the commit is not
            time.sleep(0.05)

    delta.write_table(table, pa.RecordBatchReader.from_batches(schema, batches()))
    """
)


def test_kill_9_during_a_delta_write_leaves_the_last_version_and_a_rerun_succeeds(tmp_path):
    table = tmp_path / "lake" / "exp" / "raw"
    delta.write_table(table, _rows(10))
    marker = tmp_path / "writing"
    script = tmp_path / "slow_writer.py"
    script.write_text(SLOW_WRITER)
    writer = subprocess.Popen([sys.executable, str(script), str(table), str(marker)])
    try:
        for _ in range(600):
            if marker.exists() or writer.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the writer never started writing"
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        assert writer.wait(timeout=30) == -signal.SIGKILL
    # No partial version: the log still ends at version 0, and readers see its 10 rows.
    assert delta.version(table) == 0 and len(delta.read_pandas(table)) == 10
    assert delta.write_table(table, _rows(30)) == 1
    assert len(delta.read_pandas(table)) == 30


# --- two writers racing on one Delta table -----------------------------------------------

RACING_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import pyarrow as pa
    from aurora_pipelines.lake import delta

    table, start, who = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    time.sleep(max(0.0, start - time.time()))
    version = delta.write_table(table, pa.table({"writer": [who] * 1000}), mode="append")
    print(version)
    """
)


def test_two_writers_appending_to_one_delta_table_both_commit_in_turn(tmp_path):
    table = tmp_path / "lake" / "exp" / "raw_batch"
    delta.write_table(table, pa.table({"writer": [0]}))
    script = tmp_path / "racing_writer.py"
    script.write_text(RACING_WRITER)
    start = time.time() + 4  # both processes import, then commit at the same instant
    writers = [
        subprocess.Popen(
            [sys.executable, str(script), str(table), str(start), str(who)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for who in (1, 2)
    ]
    versions = sorted(int(w.communicate(timeout=120)[0].strip()) for w in writers)
    assert [w.returncode for w in writers] == [0, 0]
    # Optimistic concurrency: one commit wins version 1, the other retries onto version 2;
    # neither overwrote the other. (Each writer reports the version it sees just after its
    # commit, which may already be the other's.)
    assert all(v in (1, 2) for v in versions) and delta.version(table) == 2
    counts = delta.read_pandas(table)["writer"].value_counts().to_dict()
    assert counts == {0: 1, 1: 1000, 2: 1000}


# --- the MLflow tracking server down mid-run ---------------------------------------------


def test_mlflow_down_at_registration_is_a_retryable_clear_error_and_the_rerun_resumes(
    home, monkeypatch
):
    from aurora_pipelines.errors import ServiceUnavailable
    from aurora_pipelines.registry import mlflow_registry
    from aurora_pipelines.sources.sample_data import generate_credit_data
    from aurora_pipelines.training.hpo import HpoConfig
    from tests.factories import train_model

    # MLflow's client would otherwise retry a dead server for minutes before it gives up.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    frame = generate_credit_data(300, seed=3)
    hpo = HpoConfig(n_trials=2, timeout_seconds=None, storage=f"sqlite:///{home.root / 'hpo.db'}")
    first = train_model(frame, hpo=hpo)
    down = f"http://127.0.0.1:{free_port()}"  # the tracking server is not there
    with pytest.raises(ServiceUnavailable) as exc:
        mlflow_registry.log_and_register(
            first,
            tracking_uri=down,
            artifact_root=home.root / "mlartifacts",
            experiment_name="faults",
            registered_model_name="faults",
            sample_input=frame[first.feature_columns].head(5),
            feature_table="features",
            feature_table_version=0,
            tags={"experiment": "faults"},
        )
    assert down in str(exc.value) and "AURORA_MLFLOW_TRACKING_URI" in str(exc.value)
    assert exc.value.retryable  # the step's retry policy applies (step_logs.observed)
    # The rerun resumes the study: every trial is found finished, none is run again.
    started = {(t.algorithm, t.number): t.started_at for t in first.trials}
    again = train_model(frame, hpo=hpo)
    assert {(t.algorithm, t.number): t.started_at for t in again.trials} == started
    assert again.best_params == first.best_params


def _mlflow_server(root: Path, port: int) -> subprocess.Popen[bytes]:
    """`mlflow server` (SQLite backend, local artifacts) on 127.0.0.1:port, once healthy."""
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--artifacts-destination", str(root / "mlartifacts")],
        stdout=subprocess.DEVNULL, stderr=(root / "mlflow.err").open("ab"),
        start_new_session=True,
    )  # fmt: skip
    for _ in range(1800):
        assert server.poll() is None, (root / "mlflow.err").read_text()[-2000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    os.killpg(server.pid, signal.SIGKILL)
    raise AssertionError("mlflow server did not start")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGKILL)  # the server and its uvicorn worker
    server.wait(timeout=30)


def test_the_mlflow_server_dying_mid_run_is_a_clear_error_and_the_rerun_registers_whole(
    tmp_path, monkeypatch
):
    from mlflow import MlflowClient

    from aurora_pipelines.errors import ServiceUnavailable
    from aurora_pipelines.registry import mlflow_registry
    from aurora_pipelines.registry.mlflow_registry import DIGEST_TAG
    from aurora_pipelines.sources.sample_data import generate_credit_data
    from tests.factories import train_model

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    frame = generate_credit_data(300, seed=3)
    result = train_model(frame)
    port = free_port()
    uri = f"http://127.0.0.1:{port}"

    def register():
        return mlflow_registry.log_and_register(
            result,
            tracking_uri=uri,
            artifact_root=tmp_path / "unused",  # the server stores the artifacts
            experiment_name="faults_server",
            registered_model_name="faults_server",
            sample_input=frame[result.feature_columns].head(5),
            feature_table="features",
            feature_table_version=0,
            tags={"experiment": "faults_server"},
        )

    server = _mlflow_server(tmp_path, port)
    try:
        first = register()  # the server is up: the run's experiment and version 1 exist
        _stop(server)  # ... then it dies
        with pytest.raises(ServiceUnavailable) as exc:
            register()
        assert uri in str(exc.value) and exc.value.retryable
        server = _mlflow_server(tmp_path, port)  # back, on the same stores
        again = register()
        client = MlflowClient(uri, uri)
        versions = client.search_model_versions("name = 'faults_server'")
        # No half-registered version from the failed attempt: 1 and the rerun's, both whole.
        assert sorted(int(v.version) for v in versions) == [int(first.version), int(again.version)]
        assert all(v.tags.get(DIGEST_TAG) for v in versions)
    finally:
        _stop(server)


# --- kill -9 during deployments ----------------------------------------------------------

DEPLOYER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from aurora_pipelines.deploy.records import record_deployment
    from aurora_pipelines.governance import GovernanceStore, load_policy
    from aurora_pipelines.settings import DEFAULT_POLICY

    url, marker = sys.argv[1], Path(sys.argv[2])
    store = GovernanceStore(url, load_policy(DEFAULT_POLICY))
    for i in range(100_000):
        record_deployment(
            store.engine, experiment="credit", model_name="m", environment="production",
            strategy="canary", action="step", deployed_by="mrm_carol", champion="1",
            challenger="2", challenger_share=0.1, correlation_id=f"deploy-{i}",
        )
        if i == 20:
            marker.touch()
    """
)


def test_kill_9_while_deploying_leaves_no_deployment_without_its_audit_row(tmp_path):
    from aurora_pipelines.deploy.records import list_deployments, record_deployment

    url = f"sqlite:///{tmp_path / 'gov.db'}"
    GovernanceStore(url, load_policy(DEFAULT_POLICY)).dispose()  # the tables, before the race
    marker = tmp_path / "deploying"
    script = tmp_path / "deployer.py"
    script.write_text(DEPLOYER)
    deployer = subprocess.Popen([sys.executable, str(script), url, str(marker)])
    try:
        for _ in range(1200):
            if marker.exists() or deployer.poll() is not None:
                break
            time.sleep(0.05)
        assert marker.exists(), "the deployer never got going"
        time.sleep(0.3)  # mid-stream: commits are landing
        os.kill(deployer.pid, signal.SIGKILL)
    finally:
        assert deployer.wait(timeout=30) == -signal.SIGKILL
    store = GovernanceStore(url, load_policy(DEFAULT_POLICY))
    try:
        records = list_deployments(store.engine)
        audited = {r["seq"]: r for r in store.read_audit(event="deployment_step")}
        assert len(records) > 20 and len(audited) == len(records)
        assert all(r.audit_seq in audited for r in records)
        assert all(audited[r.audit_seq]["correlation_id"] == r.correlation_id for r in records)
        assert store.verify_audit().ok
        # The rerun (the controller's next step) records normally.
        record_deployment(
            store.engine,
            experiment="credit",
            model_name="m",
            environment="production",
            strategy="canary",
            action="step",
            deployed_by="mrm_carol",
            champion="1",
            challenger="2",
            challenger_share=0.25,
        )
        assert len(list_deployments(store.engine)) == len(records) + 1 and store.verify_audit().ok
    finally:
        store.dispose()


# --- a version registered without its digest (killed between the two calls) -------------


def test_a_version_left_without_its_digest_is_completed_by_the_next_registration(tmp_path):
    from mlflow import MlflowClient

    from aurora_pipelines.registry.digest import model_version_digest
    from aurora_pipelines.registry.mlflow_registry import DIGEST_TAG, complete_half_registered
    from tests.factories import register_stub_versions

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # What a kill -9 after create_model_version and before the digest tag leaves behind.
    (version,) = register_stub_versions(uri, tmp_path, "half", 1)
    client = MlflowClient(uri, uri)
    assert DIGEST_TAG not in client.get_model_version("half", version).tags
    assert complete_half_registered(uri, "half") == [version]
    stamped = client.get_model_version("half", version).tags[DIGEST_TAG]
    assert stamped == model_version_digest(uri, "half", version)
    assert complete_half_registered(uri, "half") == []  # complete versions are left alone
    assert complete_half_registered(uri, "never_registered") == []
