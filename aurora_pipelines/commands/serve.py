"""`aurora serve`: the HTTP scoring service (FastAPI + uvicorn)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aurora_pipelines.errors import SpecError


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    experiment: Annotated[
        list[str] | None,
        typer.Option(help="Experiment to serve (repeatable; default: every spec)."),
    ] = None,
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between reads of the routing aliases.")
    ] = 0.5,
    max_records: Annotated[int, typer.Option(help="Most records in one request.")] = 1000,
    max_body_bytes: Annotated[int, typer.Option(help="Largest request body.")] = 1_048_576,
    log_flush_ms: Annotated[
        int, typer.Option(help="Prediction log: commit at least this often (ms).")
    ] = 2000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Server processes on the one port (each routes, scores and logs on its own).",
        ),
    ] = 1,
) -> None:
    """Serve predictions and SHAP explanations of the versions the MLflow aliases route to.

    POST /v1/models/EXPERIMENT/predict and /explain, GET /health, /metrics, /docs.
    """
    import uvicorn

    from aurora_pipelines.serving.scoring import ServiceConfig
    from aurora_pipelines.serving.service import create_app
    from aurora_pipelines.settings import get_settings
    from aurora_pipelines.structured_logs import configure_logging

    limits = {
        "poll_interval": poll_interval,
        "max_records": max_records,
        "max_body_bytes": max_body_bytes,
        "log_flush_ms": log_flush_ms,
    }
    config = ServiceConfig.from_settings(get_settings(), experiment, **limits)
    if not config.experiments:
        raise SpecError(
            "no experiment to serve: pass --experiment NAME or create a spec with "
            "`aurora experiments create`"
        )
    typer.echo(
        f"serving {', '.join(sorted(config.experiments))} on http://{host}:{port} "
        f"(OpenAPI at /docs{f', {workers} workers' if workers > 1 else ''})",
        err=True,
    )
    # A service's stderr is a log stream (unlike an interactive command's): JSON lines there too.
    configure_logging(get_settings().root, stderr=True)
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "access_log": False,
        # Clients and load balancers reuse connections: don't drop idle ones after uvicorn's 5 s.
        "timeout_keep_alive": 30,
    }
    if workers == 1:
        uvicorn.run(create_app(config), **common)
        return
    # Several processes: one GIL each, so socket writes, scoring and the log writer of
    # different requests no longer queue behind each other (BENCHMARKS.md, serving).
    from aurora_pipelines.serving.workers import export_options

    export_options(experiment, limits)
    uvicorn.run(
        "aurora_pipelines.serving.workers:app_from_env", factory=True, workers=workers, **common
    )
