"""The scoring service's HTTP face: FastAPI app factory over `scoring.ScoringService`.

Handlers read the raw body and parse it with orjson instead of declaring a pydantic model:
validation against the *model's* signature (which changes with the version) happens in
`validation.py`, and skipping pydantic keeps single-record latency low. The request schema
is still published in the OpenAPI document (`openapi_extra`).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from aurora_pipelines.request_logs import CORRELATION_HEADER
from aurora_pipelines.serving.scoring import ScoringService, ServiceConfig, Unavailable
from aurora_pipelines.serving.validation import RequestInvalid
from aurora_pipelines.structured_logs import log_context

log = logging.getLogger("aurora.scoring_service")

REQUEST_ID_HEADER = "X-Request-ID"


class OrjsonResponse(Response):
    """JSON rendered by orjson (numpy-aware, several times faster than the stdlib)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


_RECORDS_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["records"],
                "properties": {
                    "records": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "description": "One record: every input field of the model's "
                            "MLflow signature (null allowed), plus the spec's id column.",
                            "additionalProperties": True,
                        },
                    }
                },
            },
            "example": {"records": [{"age": 41, "annual_income": 52000.0, "region": "north"}]},
        }
    },
}
_ERRORS = {
    "400": {"description": "Malformed JSON."},
    "404": {"description": "Unknown experiment."},
    "413": {"description": "Too many records or too large a body."},
    "422": {"description": "A record lacks a field or has a value of the wrong type."},
    "503": {"description": "No model version can answer."},
}


def _log_refusal(experiment: str, endpoint: str, request_id: str, status: int, why: str) -> None:
    # Answered requests are counted in /metrics and logged in the prediction log; a refused one
    # is a log line, under its request id (the prediction log's and the caller's correlation id).
    with log_context(experiment=experiment, correlation_id=request_id):
        log.log(
            logging.ERROR if status >= 500 else logging.WARNING,
            "%s refused with %s: %s",
            endpoint,
            status,
            why,
            extra={"fields": {"event": "request_refused", "status": status}},
        )


def create_app(config: ServiceConfig, service: ScoringService | None = None) -> FastAPI:
    """The FastAPI app; starts routing, model preload and the log writer in its lifespan."""
    scoring = service or ScoringService(config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(scoring.start)
        try:
            yield
        finally:
            await run_in_threadpool(scoring.stop)

    app = FastAPI(
        title="Aurora scoring service",
        description="Scores records with the model versions the MLflow aliases route to.",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
    )
    app.state.scoring = scoring
    metrics = scoring.metrics

    def _respond(
        experiment: str, endpoint: str, started: float, request_id: str, status: int, body: Any
    ) -> OrjsonResponse:
        metrics.requests.labels(experiment, endpoint, str(status)).inc()
        metrics.latency.labels(experiment, endpoint).observe(time.perf_counter() - started)
        return OrjsonResponse(body, status_code=status, headers={REQUEST_ID_HEADER: request_id})

    async def _handle(request: Request, experiment: str, endpoint: str) -> OrjsonResponse:
        started = time.perf_counter()
        # A caller's correlation id doubles as the request id: prediction-log rows, refusal
        # log lines and the response then carry the id of the caller's own trail.
        request_id = (
            request.headers.get(REQUEST_ID_HEADER)
            or request.headers.get(CORRELATION_HEADER)
            or uuid.uuid4().hex
        )
        label = experiment if experiment in config.experiments else "_unknown"
        declared = request.headers.get("content-length")
        try:
            if declared and declared.isdigit() and int(declared) > config.max_body_bytes:
                raise RequestInvalid(
                    413,
                    f"request body is {declared} bytes; the limit is {config.max_body_bytes}",
                )
            body = await request.body()
            if endpoint == "predict":
                # Inline: scoring one record takes ~1 ms of CPU; a thread hop costs more.
                result = scoring.predict(experiment, body, request_id)
            else:
                result = await run_in_threadpool(scoring.explain, experiment, body, request_id)
        except RequestInvalid as exc:
            detail = {"detail": exc.reason, "field": exc.field, "request_id": request_id}
            _log_refusal(label, endpoint, request_id, exc.status, exc.reason)
            return _respond(label, endpoint, started, request_id, exc.status, detail)
        except Unavailable as exc:
            detail = {"detail": str(exc), "request_id": request_id}
            _log_refusal(label, endpoint, request_id, 503, str(exc))
            return _respond(label, endpoint, started, request_id, 503, detail)
        return _respond(label, endpoint, started, request_id, 200, result)

    @app.post(
        "/v1/models/{experiment}/predict",
        openapi_extra={"requestBody": _RECORDS_BODY},
        responses=_ERRORS,
        summary="Score one or many records",
    )
    async def predict(experiment: str, request: Request) -> OrjsonResponse:
        """Answers `{model_version, request_id, predictions}`; classifiers give the positive-class
        probability and the label at the version's registered decision threshold."""
        return await _handle(request, experiment, "predict")

    @app.post(
        "/v1/models/{experiment}/explain",
        openapi_extra={"requestBody": _RECORDS_BODY},
        responses=_ERRORS,
        summary="SHAP contributions per record and input feature",
    )
    async def explain(experiment: str, request: Request) -> OrjsonResponse:
        """Per record: base value, contribution of each input feature, top features."""
        return await _handle(request, experiment, "explain")

    @app.get("/health", summary="Routing state and loaded versions per experiment")
    async def health() -> OrjsonResponse:
        return OrjsonResponse(scoring.health())

    @app.get("/metrics", summary="Prometheus metrics (text format)")
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    return app
