"""The cluster profile's run launcher: Dagster's DefaultRunLauncher plus a run-worker health check.

The DefaultRunLauncher starts each run in a worker process of the code server, but cannot tell
run monitoring whether that process is still alive. A worker killed with -9 (or by the kernel's
OOM killer) then leaves its run STARTED for ever, and the queued run coordinator's per-experiment
limit (one run at a time) blocks every later run of that experiment behind it. This launcher
answers the health check from the worker's own engine event ("Started process for run (pid:
N)") and /proc, so the daemon marks such a run failed within one monitoring interval and the
run-failure sensor alerts (defs/operations.py).

It can only see processes on its own host: for a code server elsewhere (or without /proc) it
answers UNKNOWN, which run monitoring treats as "no opinion". On Kubernetes use dagster-k8s'
K8sRunLauncher, whose own health check watches the run's Job (deploy/k8s/values.yaml).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus

STARTED_MESSAGE = "Started process for run (pid: "
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
PROC = Path("/proc")
# A process whose start is later than its run's "started" event by more than this is another
# process that reused the pid after the worker died.
START_SLACK_SECONDS = 2.0


def worker_pid(instance: dg.DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """The pid of the run's worker process and when it reported itself, or None before it has."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT).records
    for record in reversed(records):
        entry = record.event_log_entry
        if not entry.message.startswith(STARTED_MESSAGE) or entry.dagster_event is None:
            continue
        pid = entry.dagster_event.engine_event_data.metadata.get("pid")
        if pid is not None:
            return int(pid.value), entry.timestamp
    return None


def _boot_time() -> float:
    for line in (PROC / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def process_alive_since(pid: int, not_after: float) -> bool:
    """Whether `pid` is a live (not zombie) process started no later than `not_after` (epoch s)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    state, start_ticks = fields[0], int(fields[19])
    if state in ("Z", "X"):
        return False
    started = _boot_time() + start_ticks / os.sysconf("SC_CLK_TCK")
    return started <= not_after + START_SLACK_SECONDS


class LocalProcessRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose run monitoring notices a dead run worker on this host."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        if not PROC.is_dir() or not self._worker_is_local(run):
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "run worker is not on this host")
        found = worker_pid(self._instance, run.run_id)
        if found is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "run worker has not reported yet")
        pid, reported_at = found
        if process_alive_since(pid, reported_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"run worker process {pid} on {socket.gethostname()} is gone without ending its run "
            "(killed with -9 or by the out-of-memory killer?); rerun the job",
        )

    @staticmethod
    def _worker_is_local(run: dg.DagsterRun) -> bool:
        origin = run.remote_job_origin
        if origin is None:
            return False
        host = getattr(origin.repository_origin.code_location_origin, "host", None)
        return host is None or host in LOCAL_HOSTS or host == socket.gethostname()
