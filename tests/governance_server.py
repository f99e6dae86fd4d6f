"""`aurora governance serve` as a subprocess on a free 127.0.0.1 port, for page and API tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def governance_server(env: dict[str, str]) -> Iterator[str]:
    """Serve the governance API (and its page) with `env` added; yields the base URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "aurora_pipelines.cli", "governance", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if server.poll() is not None:
                raise AssertionError(f"server exited: {server.stdout.read().decode()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("server did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
