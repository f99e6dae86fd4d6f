"""S3 for tests: moto's server as a real HTTP process on 127.0.0.1, and a small HTTP proxy in
front of it that fails chosen requests with 5xx (the failures the store must retry through)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

MOTO_SERVER = Path("/work/main/.venv/bin/moto_server")
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection"}
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """`moto_server` in its own process on a free port; yields its endpoint URL."""
    import sys

    port = free_port()
    binary = MOTO_SERVER if MOTO_SERVER.exists() else Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on {endpoint}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def aws_env(endpoint: str) -> Iterator[None]:
    values = {**FAKE_AWS, "AWS_ENDPOINT_URL": endpoint}
    previous = {k: os.environ.get(k) for k in [*values, "AWS_ENDPOINT_URL_S3"]}
    os.environ.update(values)
    os.environ.pop("AWS_ENDPOINT_URL_S3", None)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


DROP = 0  # a `status` that closes the connection without an answer
TRUNCATE = -1  # a `status` that forwards the answer's headers and half its body, then closes


class FlakyProxy:
    """Forwards every request to `upstream`; the first `fail_first` requests matching `when`
    get `status` with an S3 error body instead (or, for DROP / TRUNCATE, a connection the
    server drops). Counts what it saw."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlparse(upstream)
        self.fail_first = 0
        self.status = 503
        self.when: Callable[[str, str], bool] = lambda method, path: True
        self.requests: list[tuple[str, str]] = []
        self.failed: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail(self, count: int, status: int = 503, when=None) -> None:
        with self._lock:
            self.fail_first, self.status = count, status
            self.when = when or (lambda method, path: True)
            self.requests.clear()
            self.failed.clear()

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _should_fail(self, method: str, path: str) -> bool:
        with self._lock:
            self.requests.append((method, path))
            if self.fail_first > 0 and self.when(method, path):
                self.fail_first -= 1
                self.failed.append((method, path))
                return True
            return False

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _drop(self) -> None:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)

            def _handle(self) -> None:
                body = self._body()
                failing = proxy._should_fail(self.command, self.path)
                if failing and proxy.status == DROP:
                    self._drop()
                    return
                if failing and proxy.status != TRUNCATE:
                    error = (
                        b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>'
                        + (b"ServiceUnavailable" if proxy.status == 503 else b"InternalError")
                        + b"</Code><Message>injected failure</Message></Error>"
                    )
                    self._send(
                        proxy.status,
                        [("Content-Type", "application/xml"), ("Content-Length", str(len(error)))],
                        error,
                    )
                    return
                upstream = http.client.HTTPConnection(
                    proxy.upstream.hostname, proxy.upstream.port, timeout=60
                )
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                if body or self.command in ("PUT", "POST"):
                    headers["Content-Length"] = str(len(body))
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                out = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_HEADERS]
                if self.command != "HEAD":
                    out = [(k, v) for k, v in out if k.lower() != "content-length"]
                    out.append(("Content-Length", str(len(data))))
                upstream.close()
                if failing:  # TRUNCATE: the answer starts, then the connection is gone
                    self._send(response.status, out, data[: len(data) // 2])
                    self._drop()
                    return
                self._send(response.status, out, data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        return Handler
