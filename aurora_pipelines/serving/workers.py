"""`aurora serve --workers N`: the app factory each uvicorn worker process calls.

uvicorn starts several workers only from an import string, so the command's options travel
to the workers in one environment variable (JSON; no secrets: the tracking URI and the
governance store come from the settings each worker reads itself). Nothing is shared between
workers, and nothing needs to be: each polls the MLflow aliases for its own routing state,
loads its own models and runs its own prediction-log writer (Delta appends from several
processes commit one after the other, see log_writer.py). Prometheus metrics are per worker:
a scrape of /metrics sees the worker that answered it.
"""

from __future__ import annotations

import json
import os
from typing import Any

OPTIONS_ENV = "AURORA_SERVE_OPTIONS"


def export_options(experiments: list[str] | None, limits: dict[str, Any]) -> None:
    """Hand the command's options to the worker processes uvicorn is about to start."""
    os.environ[OPTIONS_ENV] = json.dumps({"experiments": experiments, "limits": limits})


def app_from_env() -> Any:
    """uvicorn factory (`--factory`): build this worker's app from the exported options."""
    from aurora_pipelines.serving.scoring import ServiceConfig
    from aurora_pipelines.serving.service import create_app
    from aurora_pipelines.settings import get_settings
    from aurora_pipelines.structured_logs import configure_logging

    raw = os.environ.get(OPTIONS_ENV)
    if raw is None:
        raise RuntimeError(
            f"{OPTIONS_ENV} is not set: start workers with `aurora serve --workers N`"
        )
    options = json.loads(raw)
    settings = get_settings()
    configure_logging(settings.root, stderr=True)
    return create_app(
        ServiceConfig.from_settings(settings, options["experiments"], **options["limits"])
    )
