"""Runs executed by `dagster-daemon` on the cluster profile's instance (PostgreSQL storage, the
queued run coordinator with one run per experiment, run monitoring, the cluster's run
launcher), faults injected into the run workers themselves:

- a run worker killed with -9 mid Delta write: run monitoring fails the run, the run-failure
  sensor alerts, no partial table version, and the experiment's queued run goes ahead;
- two runs of different experiments appending to one Delta table at once: both commit;
- a queued run cancelled with Aurora's run control (`aurora runs cancel`): it never starts.

The code location is tests/integration/daemon_location.py (Aurora's Delta writer and its
run-failure sensor); the instance's dagster.yaml is the one deploy/cluster/stack.py writes.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pyarrow as pa
import pytest

from aurora_pipelines.lake import delta
from aurora_pipelines.settings import REPO_DIR
from tests.cluster_stack import stack_module
from tests.dagster_webserver import dagster_daemon, dagster_webserver
from tests.http_receiver import Receiver

LOCATION = "daemon_faults"
EXPERIMENT = "credit_default"  # the run control checks the tag's experiment spec and team
TIMEOUT = 180


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, postgres_admin_url):
    """A PostgreSQL Dagster instance with its daemon and webserver on the test location."""
    from dagster_graphql import DagsterGraphQLClient

    from aurora_pipelines.settings import Settings
    from tests.postgres import fresh_database

    root = tmp_path_factory.mktemp("daemon")
    settings = Settings(
        home=root / "home",
        experiments_dir=REPO_DIR / "experiments",
        governance_url=f"sqlite:///{root / 'governance.db'}",
    )
    settings.dagster_home.mkdir(parents=True)
    (settings.dagster_home / "dagster.yaml").write_text(stack_module().dagster_yaml(2))
    workspace = root / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_file:\n"
        f"      relative_path: {REPO_DIR / 'tests/integration/daemon_location.py'}\n"
        f"      location_name: {LOCATION}\n      working_directory: {REPO_DIR}\n"
    )
    with fresh_database(postgres_admin_url) as url, Receiver() as alerts:
        env = {
            "DAGSTER_HOME": str(settings.dagster_home),
            "AURORA_DAGSTER_PG_URL": url.replace("+psycopg://", "+psycopg2://"),
            "AURORA_HOME": str(settings.root),
            "AURORA_ALERT_WEBHOOK_URL": alerts.url,
            "PYTHONPATH": str(REPO_DIR),
        }
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            with (
                dagster_daemon(env, workspace, root / "daemon.log"),
                dagster_webserver(env, workspace=workspace) as ui,
            ):
                port = int(ui.rsplit(":", 1)[1])
                yield {
                    "client": DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60),
                    "settings": settings.model_copy(update={"dagster_url": ui}),
                    "alerts": alerts,
                    "root": root,
                    "log": root / "daemon.log",
                }


def _instance():
    import dagster as dg

    return dg.DagsterInstance.get()  # DAGSTER_HOME of the fixture


def _submit(daemon, table: Path, writer: str, experiment: str = EXPERIMENT, **config) -> str:
    return daemon["client"].submit_job_execution(
        "append_job",
        repository_location_name=LOCATION,
        run_config={"ops": {"append_rows": {"config": {"table": str(table), "writer": writer,
                                                       **config}}}},
        tags={"aurora/experiment": experiment, "aurora/actor": "ds_alice"},
    )  # fmt: skip


def _record(run_id: str):
    import dagster as dg

    return _instance().get_run_records(dg.RunsFilter(run_ids=[run_id]))[0]


def _wait(what: str, check, timeout: float = TIMEOUT, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"{what} within {timeout:.0f} s\n{tail}")


def _finished(daemon, run_id: str):
    record = _wait(
        f"run {run_id} did not finish",
        lambda: (r := _record(run_id)) and r.dagster_run.is_finished and r,
        log=daemon["log"],
    )
    return record


def _writers(table: Path) -> dict[str, int]:
    return delta.read_pandas(table)["writer"].value_counts().to_dict()


def _new_table(daemon, name: str) -> Path:
    table = daemon["root"] / "lake" / name
    delta.write_table(table, pa.table({"writer": ["seed"]}))
    return table


def _start_doomed_run(daemon, name: str) -> tuple[Path, str, str, int]:
    """A slow write of the experiment, caught mid-write, and a run of it queued behind."""
    import dagster as dg

    from aurora_pipelines.defs.run_launcher import worker_pid

    table = _new_table(daemon, name)
    marker = daemon["root"] / f"{name}.writing"
    doomed = _submit(daemon, table, "doomed", batches=600, pause=0.1, marker=str(marker))
    queued = _submit(daemon, table, "next")
    _wait("the doomed run never started writing", marker.exists, log=daemon["log"])
    # One run per experiment: the second waits in the queue while the first writes.
    assert _record(queued).dagster_run.status == dg.DagsterRunStatus.QUEUED
    pid, _ = worker_pid(_instance(), doomed)
    assert int(marker.read_text()) == pid  # the op runs in the worker itself (in-process executor)
    return table, doomed, queued, pid


def _assert_failed_alerted_and_freed(
    daemon, table: Path, doomed: str, queued: str, *why_any: str
) -> None:
    import dagster as dg

    failed = _finished(daemon, doomed)
    assert failed.dagster_run.status == dg.DagsterRunStatus.FAILURE
    messages = [e.message for e in _instance().all_logs(doomed)]
    why = next((w for w in why_any if any(w in m for m in messages)), None)
    assert why, (why_any, messages[-3:])
    # The run-failure sensor's alert reached the webhook: the run, the step it was in, why.
    alert = _wait(
        "no run_failed alert for the killed run",
        lambda: next((b for b in daemon["alerts"].bodies if doomed in b.get("message", "")), None),
    )
    assert alert["event"] == "run_failed", alert
    assert any(w in alert["details"]["reason"] for w in why_any), alert
    assert alert["details"]["in_flight_steps"] == ["append_rows"], alert
    assert "failed at append_rows" in alert["message"]
    # The experiment's next run was not blocked behind the dead one, and the table never saw
    # a partial version: the seed (v0), then the next run's whole commit (v1).
    assert _finished(daemon, queued).dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert delta.version(table) == 1
    assert _writers(table) == {"seed": 1, "next": 1000}


def test_a_run_worker_killed_mid_write_fails_its_run_alerts_and_frees_the_experiment(daemon):
    table, doomed, queued, pid = _start_doomed_run(daemon, "killed")
    os.kill(pid, signal.SIGKILL)
    # The code server that spawned the worker sees it die and fails the run, unless run
    # monitoring's next poll (the launcher's health check) gets there first.
    _assert_failed_alerted_and_freed(
        daemon, table, doomed, queued, "terminated by signal 9", f"run worker process {pid} on"
    )


def test_a_run_whose_worker_and_code_server_died_is_failed_by_run_monitoring(daemon):
    # Both gone (a node restart, the OOM killer taking the group): nobody is left to report the
    # run's end; the run launcher's health check lets run monitoring fail it.
    table, doomed, queued, pid = _start_doomed_run(daemon, "orphaned")
    code_server = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    os.kill(code_server, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    _assert_failed_alerted_and_freed(daemon, table, doomed, queued, f"run worker process {pid} on")


def test_runs_of_two_experiments_append_to_one_delta_table_at_once_and_both_commit(daemon):
    import dagster as dg

    table = _new_table(daemon, "shared")
    runs = [
        _submit(daemon, table, writer, experiment=experiment, batches=40, pause=0.1)
        for writer, experiment in (("first", EXPERIMENT), ("second", "other_experiment"))
    ]
    records = [_finished(daemon, run_id) for run_id in runs]
    assert [r.dagster_run.status for r in records] == [dg.DagsterRunStatus.SUCCESS] * 2
    # They ran at the same time (different experiments: the queue lets both go) ...
    (start_a, end_a), (start_b, end_b) = [(r.start_time, r.end_time) for r in records]
    assert start_a < end_b and start_b < end_a
    # ... and Delta's optimistic concurrency put each whole commit on its own version.
    assert delta.version(table) == 2
    assert _writers(table) == {"seed": 1, "first": 40_000, "second": 40_000}


def test_a_queued_run_cancelled_through_run_control_never_starts(daemon):
    import dagster as dg

    from aurora_pipelines.defs.run_control import run_control_for

    table = _new_table(daemon, "cancelled")
    marker = daemon["root"] / "running.writing"
    running = _submit(daemon, table, "running", batches=60, pause=0.1, marker=str(marker))
    queued = _submit(daemon, table, "cancelled")
    _wait("the first run never started writing", marker.exists, log=daemon["log"])
    control = run_control_for(daemon["settings"])
    assert control.status(queued).status == "QUEUED"

    control.cancel("ds_alice", queued)

    cancelled = _finished(daemon, queued)
    assert cancelled.dagster_run.status == dg.DagsterRunStatus.CANCELED
    assert cancelled.start_time is None  # dequeued by nobody: no worker ever ran it
    assert _finished(daemon, running).dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert _writers(table) == {"seed": 1, "running": 60_000}
    audited = control.store.read_audit(event="run_canceled")
    assert [(r["actor"], r["target"]) for r in audited] == [("ds_alice", f"run:{queued}")]
