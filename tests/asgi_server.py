"""An ASGI app served by uvicorn in a thread on a free 127.0.0.1 port: real HTTP, no subprocess."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.governance_server import free_port


class ServedApp:
    """`with ServedApp(app) as served: httpx.get(served.url + ...)`."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        for _ in range(400):
            if self.server.started:
                return self
            time.sleep(0.05)
        raise AssertionError("the app did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
