"""`dagster-webserver` (on a free 127.0.0.1 port) and `dagster-daemon` on a workspace, as
subprocesses stopped with their children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from aurora_pipelines.settings import REPO_DIR
from tests.governance_server import free_port


def _descendants(pid: int) -> list[int]:
    """Child processes (recursively) from /proc: the code server may leave the group."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


@contextmanager
def dagster_webserver(
    env: dict[str, str], port: int | None = None, workspace: Path | None = None
) -> Iterator[str]:
    """Serve the code location (the repo's workspace.yaml, or `workspace`) with `env` added;
    yields the base URL. The server, its group and its code-server children are stopped at
    the end."""
    port = port or free_port()
    webserver = Path(sys.executable).with_name("dagster-webserver")
    server = subprocess.Popen(
        [
            str(webserver),
            "-w",
            str(workspace or "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO_DIR,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            if server.poll() is not None:
                raise AssertionError(f"webserver exited: {server.stdout.read().decode()}")
            try:
                if httpx.get(f"{url}/server_info", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("webserver did not start")
        yield url
    finally:
        _stop(server)


def _stop(server: subprocess.Popen) -> None:
    """Stop a server started in its own session, its group and its (re-parented) children."""
    children = _descendants(server.pid)
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    for child in children:
        with suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)


@contextmanager
def dagster_daemon(env: dict[str, str], workspace: Path, log: Path) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` on `workspace` (the instance in env's DAGSTER_HOME), logging to
    `log`; it and its children are stopped at the end."""
    daemon = Path(sys.executable).with_name("dagster-daemon")
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(daemon), "run", "-w", str(workspace)],
            cwd=REPO_DIR,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        _stop(process)
