"""kill -9 of the worker in the middle of a bundle upload, of training (an MLflow run in
progress) and of a dbt run (model outputs staged, not committed). Each worker is a real
subprocess, killed with SIGKILL at a point the test detects on disk; afterwards nothing is
half written (the feature table keeps its Delta version, no model version lacks its digest,
no staging folder outlives the next upload) and a rerun succeeds. test_faults.py holds the
other faults (kill -9 during a Delta write and a deployment, PostgreSQL, full disk, MLflow)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aurora_pipelines.deploy.artifact_store import LocalArtifactStore
from aurora_pipelines.lake import delta

WORKTREE = Path(__file__).resolve().parents[2]


def _spawn(script: str, tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[bytes]:
    path = tmp_path / "worker.py"
    path.write_text(textwrap.dedent(script))
    environment = {**os.environ, "PYTHONPATH": str(WORKTREE), **env}
    return _popen([sys.executable, str(path), *args], environment, tmp_path)


def _popen(command: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.Popen[bytes]:
    # stderr to a file, not a pipe: a worker that fills an unread pipe would block forever.
    log = tmp_path / "worker.err"
    with log.open("wb") as err:
        worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
    worker.err_log = log  # type: ignore[attr-defined]  # read by _kill_when on failure
    return worker


def _kill_when(worker: subprocess.Popen[bytes], ready: Callable[[], bool], what: str) -> None:
    """SIGKILL `worker` as soon as `ready()` holds; fail if it ended first."""
    try:
        deadline = time.monotonic() + 240
        while not ready():
            if worker.poll() is not None:
                err = worker.err_log.read_text(errors="replace")[-3000:]  # type: ignore[attr-defined]
                pytest.fail(f"the worker ended (rc {worker.returncode}) before {what}:\n{err}")
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.02)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait(timeout=60)
    assert worker.returncode == -signal.SIGKILL


# --- a bundle upload ------------------------------------------------------------------------

UPLOADER = """
    import shutil, sys, time
    from pathlib import Path
    from aurora_pipelines.deploy.artifact_store import LocalArtifactStore

    # A slow disk: each file of the bundle takes a while, so the kill lands mid-copy.
    def slow_copy(src, dst, **kw):
        time.sleep(0.05)
        return shutil.copy2(src, dst, **kw)

    copytree = shutil.copytree
    shutil.copytree = lambda src, dst, **kw: copytree(src, dst, copy_function=slow_copy, **kw)
    LocalArtifactStore(Path(sys.argv[1])).put(Path(sys.argv[2]), "bundles/credit/3")
"""


def _bundle(root: Path, files: int, marker: str) -> Path:
    root.mkdir(parents=True)
    for i in range(files):
        (root / f"part-{i:03d}.bin").write_text(f"{marker} {i}\n")
    return root


def test_kill_9_during_a_bundle_upload_keeps_the_old_bundle_and_the_next_put_cleans_up(
    tmp_path: Path,
) -> None:
    store = LocalArtifactStore(tmp_path / "store")
    store.put(_bundle(tmp_path / "v1", 3, "v1"), "bundles/credit/3")
    parent = store.root / "bundles" / "credit"

    def staging() -> list[Path]:
        return [p for p in parent.iterdir() if p.name.startswith(".3.tmp-")]

    def copying() -> bool:  # the staging folder holds a few files of the new bundle
        return any(len(list(p.iterdir())) >= 3 for p in staging())

    worker = _spawn(UPLOADER, tmp_path, str(store.root), str(_bundle(tmp_path / "v2", 200, "v2")))
    _kill_when(worker, copying, "the upload started copying")
    # Readers still get the whole previous bundle; the half copy is hidden but on disk.
    assert store.list("bundles/credit/3") == [
        f"bundles/credit/3/part-{i:03d}.bin" for i in range(3)
    ]
    assert (parent / "3" / "part-000.bin").read_text() == "v1 0\n"
    (left,) = staging()
    assert 3 <= len(list(left.iterdir())) < 200
    # The rerun: the dead upload's staging folder goes, the new bundle is complete.
    store.put(tmp_path / "v2", "bundles/credit/3")
    assert staging() == [] and not left.exists()
    assert [p.name for p in parent.iterdir()] == ["3"]
    assert len(store.list("bundles/credit/3")) == 200
    assert (parent / "3" / "part-199.bin").read_text() == "v2 199\n"


def test_a_live_uploads_staging_folder_is_left_alone_and_a_kill_between_renames_restores(
    tmp_path: Path,
) -> None:
    from aurora_pipelines.deploy.artifact_store import _HOST, remove_stale_staging

    store = LocalArtifactStore(tmp_path / "store")
    store.put(_bundle(tmp_path / "v1", 2, "v1"), "b")
    live = store.root / f".b.tmp-{_HOST}-{os.getpid()}-{'a' * 32}"  # this process: alive
    live.mkdir()
    foreign = store.root / f".b.tmp-otherhost-1-{'b' * 32}"  # another host, just now
    foreign.mkdir()
    assert remove_stale_staging(store.root / "b") == []
    assert remove_stale_staging(store.root / "b", now=time.time() + 2 * 86400) == [foreign]
    assert live.exists() and not foreign.exists()
    # Killed after moving the old bundle aside and before moving the new one in.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    aside = store.root / f".b.old-{_HOST}-{dead.stdout.strip()}-{'c' * 32}"
    (store.root / "b").rename(aside)
    assert remove_stale_staging(store.root / "b") == []
    assert store.list("b") == ["b/part-000.bin", "b/part-001.bin"] and not aside.exists()


def test_the_next_s3_put_aborts_a_killed_multipart_upload(tmp_path: Path) -> None:
    import boto3

    from aurora_pipelines.deploy.artifact_store import S3ArtifactStore
    from tests.s3_support import aws_env, moto_server

    with moto_server() as endpoint, aws_env(endpoint):
        client = boto3.client("s3", endpoint_url=endpoint)
        client.create_bucket(Bucket="killed")
        store = S3ArtifactStore("killed", "team", endpoint_url=endpoint)
        # What a worker killed mid-transfer leaves: an upload with a part, never completed
        # or aborted (boto3 aborts on an exception, but a SIGKILL runs no handler).
        upload = client.create_multipart_upload(Bucket="killed", Key="team/bundles/m/1/model.pkl")
        client.upload_part(Bucket="killed", Key="team/bundles/m/1/model.pkl", PartNumber=1,
                           UploadId=upload["UploadId"], Body=b"x" * 1024)  # fmt: skip
        other = client.create_multipart_upload(Bucket="killed", Key="team/bundles/m/10/a")
        # Younger than the age limit: maybe a live concurrent put, kept. (moto reports every
        # upload as initiated in 2010, so only a limit beyond that keeps one here.)
        assert store.abort_abandoned_uploads("bundles/m/1", older_than_seconds=1e10) == []
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "model.pkl").write_bytes(b"model")
        store.put(tmp_path / "b", "bundles/m/1")  # the rerun: aborts the abandoned upload
        left = client.list_multipart_uploads(Bucket="killed").get("Uploads", [])
        assert [u["UploadId"] for u in left] == [other["UploadId"]]  # `1` is not `10`
        assert store.list("bundles/m/1") == ["bundles/m/1/model.pkl"]
        assert store.abort_abandoned_uploads("bundles/m/1", older_than_seconds=0) == []


# --- training: killed while its MLflow run is logging ----------------------------------------

TRAINER = """
    import sys
    from aurora_pipelines.lake import delta
    from tests.factories import register_model, train_model

    uri, features = sys.argv[1], sys.argv[2]
    frame = delta.read_pandas(features)
    register_model(uri, "killed_training", train_model(frame), frame, features)
"""


def _runs(db: Path, status: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2) as conn:
            return conn.execute("SELECT count(*) FROM runs WHERE status = ?", (status,)).fetchone()[
                0
            ]
    except sqlite3.OperationalError:  # the schema is still being created, or locked
        return 0


def test_kill_9_during_training_leaves_no_half_registered_model_and_a_rerun_registers(
    tmp_path: Path,
) -> None:
    from mlflow import MlflowClient

    from aurora_pipelines.registry.mlflow_registry import DIGEST_TAG
    from aurora_pipelines.sources.sample_data import generate_credit_data
    from tests.factories import register_model, train_model

    features = tmp_path / "lake" / "credit" / "features"
    frame = generate_credit_data(300, seed=5)
    delta.write_table(features, frame)
    db = tmp_path / "mlflow.db"
    uri = f"sqlite:///{db}"
    worker = _spawn(TRAINER, tmp_path, uri, str(features))
    _kill_when(worker, lambda: _runs(db, "RUNNING") > 0, "the MLflow run started")
    # The feature table is as it was; no version of the model exists, so none lacks a digest.
    assert delta.version(features) == 0
    client = MlflowClient(uri, uri)
    assert client.search_model_versions("name = 'killed_training'") == []
    # MLflow cannot know the run died: it stays RUNNING, with whatever it logged, and no
    # version points at it. The rerun trains and registers a complete version.
    assert _runs(db, "RUNNING") == 1
    registered = register_model(uri, "killed_training", train_model(frame), frame, features)
    (version,) = client.search_model_versions("name = 'killed_training'")
    assert str(version.version) == registered.version
    assert version.tags[DIGEST_TAG] == registered.digest
    with sqlite3.connect(db) as conn:
        dead = {r[0] for r in conn.execute("SELECT run_uuid FROM runs WHERE status = 'RUNNING'")}
    assert len(dead) == 1 and version.run_id not in dead


# --- a dbt run: killed with its model's output staged, before the commit ------------------------


def test_kill_9_during_a_dbt_run_keeps_the_feature_table_version_and_a_rerun_commits(
    tmp_path: Path,
) -> None:
    from aurora_pipelines.sources.sample_data import generate_credit_data
    from tests.dbt_support import AURORA_DBT, PROJECT_DIR, lake, run_dbt

    home = tmp_path / "home"
    write = delta.write_table
    write(lake(home, "raw"), generate_credit_data(200, seed=1))
    write(lake(home, "raw_batch"), generate_credit_data(20, seed=2).drop(columns="default_flag"))
    select = ("--select", "credit_default_features")
    first = run_dbt(home, "build", *select)
    assert first.returncode == 0, first.stdout[-3000:]
    features = lake(home, "features")
    assert delta.version(features) == 0 and len(delta.read_pandas(features)) == 200
    write(lake(home, "raw"), generate_credit_data(300, seed=3))  # new data arrives
    staged = home / "dbt" / "staged"

    def staged_not_committed() -> bool:  # the model ran; its tests (and the commit) are next
        return any(staged.glob("*/credit_default_features.json"))

    command = [
        AURORA_DBT, "build", *select, "--target", "duckdb",
        "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
        "--target-path", str(home / "dbt_target_duckdb"), "--log-path", str(home / "dbt_logs"),
    ]  # fmt: skip
    env = {**os.environ, "AURORA_HOME": str(home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    worker = _popen(command, env, tmp_path)
    _kill_when(worker, staged_not_committed, "dbt staged the model's output")
    # No partial table version: readers still see version 0 and its 200 rows.
    assert delta.version(features) == 0 and len(delta.read_pandas(features)) == 200
    (left,) = staged.iterdir()  # the killed run's stage folder
    rerun = run_dbt(home, "build", *select)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    assert delta.version(features) == 1 and len(delta.read_pandas(features)) == 300
    assert not left.exists() and list(staged.iterdir()) == []


# --- an Optuna study: killed mid-search, resumed by the rerun --------------------------------

TUNER = """
    import sys
    from aurora_pipelines.sources.sample_data import generate_credit_data
    from aurora_pipelines.training.hpo import HpoConfig
    from tests.factories import train_model

    storage = sys.argv[1]
    hpo = HpoConfig(n_trials=10_000, timeout_seconds=None, pruning=False, storage=storage)
    train_model(generate_credit_data(300, seed=3), hpo=hpo)
"""


def _trials(db: Path, state: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2) as conn:
            query = "SELECT count(*) FROM trials WHERE state = ?"
            return conn.execute(query, (state,)).fetchone()[0]
    except sqlite3.OperationalError:  # the schema is still being created, or locked
        return 0


def test_kill_9_mid_search_keeps_the_finished_trials_and_the_rerun_only_completes_the_budget(
    tmp_path: Path,
) -> None:
    from aurora_pipelines.sources.sample_data import generate_credit_data
    from aurora_pipelines.training.hpo import HpoConfig
    from tests.factories import train_model

    db = tmp_path / "hpo.db"
    storage = f"sqlite:///{db}"
    worker = _spawn(TUNER, tmp_path, storage)

    def mid_trial() -> bool:  # three trials finished and a fourth running
        return _trials(db, "COMPLETE") >= 3 and _trials(db, "RUNNING") == 1

    _kill_when(worker, mid_trial, "three trials finished and a fourth started")
    with sqlite3.connect(db) as conn:
        before = dict(
            conn.execute(
                "SELECT number, datetime_start FROM trials WHERE state = 'COMPLETE'"
            ).fetchall()
        )
    budget = len(before) + 2
    hpo = HpoConfig(n_trials=budget, timeout_seconds=None, pruning=False, storage=storage)
    again = train_model(generate_credit_data(300, seed=3), hpo=hpo)
    finished = [t for t in again.trials if t.state == "COMPLETE"]
    assert len(finished) == budget  # the killed search's trials count towards the budget
    assert set(before) <= {t.number for t in finished}  # ... and none of them ran again
    assert {t.state for t in again.trials} <= {"COMPLETE", "PRUNED", "FAIL"}
