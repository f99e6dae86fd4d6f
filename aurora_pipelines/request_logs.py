"""Request logs of the HTTP services: one JSON line per request under the caller's correlation
id (the `X-Correlation-ID` header, else a new one, echoed back), so a decision made through the
governance API is found by the same id in its audit row and the log."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aurora_pipelines.structured_logs import log_context

if TYPE_CHECKING:
    from fastapi import FastAPI, Request, Response

CORRELATION_HEADER = "X-Correlation-ID"


def install_request_logging(app: FastAPI, service: str) -> None:
    """Log every request of `app` (method, path, status, seconds) on `aurora.<service>`."""
    log = logging.getLogger(f"aurora.{service}")

    @app.middleware("http")
    async def _request_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        correlation_id = request.headers.get(CORRELATION_HEADER) or uuid.uuid4().hex
        started = time.perf_counter()
        with log_context(correlation_id=correlation_id):
            response = await call_next(request)
            fields = {
                "event": "http_request",
                "method": request.method,
                "path": request.url.path,
                "status": response.status_code,
                "seconds": round(time.perf_counter() - started, 4),
            }
            level = logging.ERROR if response.status_code >= 500 else logging.INFO
            log.log(
                level,
                "%s %s %s",
                request.method,
                request.url.path,
                response.status_code,
                extra={"fields": fields},
            )
        response.headers.setdefault(CORRELATION_HEADER, correlation_id)
        return response
