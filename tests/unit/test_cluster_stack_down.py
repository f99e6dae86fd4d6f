"""`deploy/cluster/stack.py down` leaves nothing it started: a server's children that ignore
SIGTERM, and a descendant that left its process group (it still carries the stack's mark)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cluster_stack import stack_module

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux)")

# A "server" that starts a SIGTERM-ignoring child in its group and a marked child in a session
# of its own, prints both pids, then waits.
SERVER = """
import os, subprocess, sys, time
stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
a = subprocess.Popen([sys.executable, "-c", stubborn])
b = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
print(a.pid, b.pid, flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except OSError:
        return True
    return state == "Z"  # a zombie is dead, only not yet reaped by its parent


def test_down_stops_the_group_and_marked_strays(tmp_path: Path) -> None:
    stack = stack_module()
    state = tmp_path / "state"
    state.mkdir()
    env = {**os.environ, stack.MARK: str(state.resolve())}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], env=env, stdout=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    stubborn, stray = (int(p) for p in server.stdout.readline().split())
    (state / "stack.json").write_text(
        json.dumps({"processes": {"server": {"pid": server.pid, "log": "", "argv": []}}})
    )
    stack.main(["down", "--state", str(state), "--grace", "1"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(map(_gone, (server.pid, stubborn, stray))):
        time.sleep(0.1)
    assert _gone(server.pid) and _gone(stubborn) and _gone(stray)
    assert json.loads((state / "stack.json").read_text())["processes"] == {}


def test_down_with_nothing_recorded_is_a_no_op(tmp_path: Path, capsys) -> None:
    assert stack_module().main(["down", "--state", str(tmp_path)]) == 0
    assert "stopped" not in capsys.readouterr().out
