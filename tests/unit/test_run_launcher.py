"""The cluster run launcher's health check: a live worker is RUNNING, a dead or zombie one (or
a pid reused by a later process) is not."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from aurora_pipelines.defs.run_launcher import process_alive_since


def test_a_live_process_started_before_its_report_is_alive():
    assert process_alive_since(os.getpid(), time.time())


def test_an_exited_process_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not process_alive_since(child.pid, time.time())


def test_a_zombie_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        # Not reaped yet: the kernel keeps it as a zombie until wait().
        while time.monotonic() < deadline:
            stat = Path(f"/proc/{child.pid}/stat").read_text()
            state = stat.rsplit(")", 1)[1].split()[0]
            if state == "Z":
                break
            time.sleep(0.05)
        assert state == "Z"
        assert not process_alive_since(child.pid, time.time())
    finally:
        child.wait()


def test_a_pid_reused_by_a_process_started_after_the_report_is_not_the_worker():
    # Our own process stands in for a later one: it started long after "the worker" reported.
    assert not process_alive_since(os.getpid(), time.time() - 3600)
