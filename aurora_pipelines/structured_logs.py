"""Structured logs: one JSON object per line, with who/what/which-run fields on every event.

Every line carries `time`, `level`, `logger`, `message` and, when known, `experiment`, `stage`,
`run_id`, `correlation_id` and `actor`. Those five come from the *log context*, set once where
the work starts (the CLI command, a Dagster step, a sensor tick, a service request) with
`log_context(...)`; code below it logs plainly. A message that is itself a JSON object (the
monitoring alerts) is merged into the line rather than quoted.

Lines go to a rotating file, `AURORA_HOME/logs/aurora.jsonl` (10 MiB x 5), and to stderr where
stderr is a log stream (Dagster steps, sensors, services). The CLI keeps stderr for its one-line
errors unless AURORA_LOG_STDERR=1. The format is ready for Splunk (`INDEXED_EXTRACTIONS = json`,
`TIME_PREFIX = "time": "`) and ELK (Filebeat `ndjson` parser); see README "Operations".
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

CONTEXT_FIELDS = ("experiment", "stage", "run_id", "correlation_id", "actor")
# Our loggers: engine modules log under their module name, services and alerts under `aurora.`.
ROOT_LOGGERS = ("aurora", "aurora_pipelines")
LOG_FILE = "aurora.jsonl"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5

_context: ContextVar[dict[str, str]] = ContextVar("aurora_log_context", default={})  # noqa: B039


def current_context() -> dict[str, str]:
    """The log-context fields in force here (empty outside any `log_context`)."""
    return dict(_context.get())


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[dict[str, str]]:
    """Add `fields` (None values ignored) to every log line emitted inside the block."""
    merged = {**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield merged
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per record; the context fields as they were when the record was made."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        body.update(getattr(record, "aurora_context", None) or current_context())
        message = record.getMessage()
        merged = _json_object(message)
        if merged is None:
            body["message"] = message
        else:
            body.update({k: v for k, v in merged.items() if k not in ("logger", "level")})
        body.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def _json_object(message: str) -> dict[str, Any] | None:
    if not message.startswith("{"):
        return None
    try:
        value = json.loads(message)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class _ContextFilter(logging.Filter):
    # Captured at emit time, in the emitting thread: a handler formatting later (or the
    # rotating file's lock holder) must not see another request's context.
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "aurora_context"):
            record.aurora_context = current_context()
        return True


def log_path(home: Path) -> Path:
    """The rotating JSON log file of an AURORA_HOME."""
    return home / "logs" / LOG_FILE


def configure_logging(home: Path, *, stderr: bool) -> Path:
    """Send Aurora's loggers to the JSON file under `home` (and to stderr if asked); idempotent
    for the same home, and re-pointed when the home changes. Returns the file's path."""
    path = log_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    stderr = stderr or os.environ.get("AURORA_LOG_STDERR", "") == "1"
    level = os.environ.get("AURORA_LOG_LEVEL", "INFO").upper()
    formatter = JsonFormatter()
    for name in ROOT_LOGGERS:
        logger = logging.getLogger(name)
        ours = [h for h in logger.handlers if getattr(h, "aurora_json", False)]
        if any(getattr(h, "baseFilename", None) == str(path) for h in ours) and (
            stderr == any(isinstance(h, _StderrHandler) for h in ours)
        ):
            continue
        for handler in ours:
            logger.removeHandler(handler)
            handler.close()
        handlers: list[logging.Handler] = [
            _QuietFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        ]
        if stderr:
            handlers.append(_StderrHandler())
        for handler in handlers:
            handler.aurora_json = True  # type: ignore[attr-defined]
            handler.setFormatter(formatter)
            handler.addFilter(_ContextFilter())
            logger.addHandler(handler)
        logger.setLevel(level)
    return path


def ensure_logging(home: Path, *, stderr: bool) -> Path:
    """`configure_logging` for code that runs inside a process someone else may have set up
    (a Dagster step or sensor inside `aurora run`): keeps that process's stderr choice, so an
    interactive command's stderr gets no JSON, and only follows a change of home."""
    logger = logging.getLogger(ROOT_LOGGERS[0])
    ours = [h for h in logger.handlers if getattr(h, "aurora_json", False)]
    if ours:
        stderr = any(isinstance(h, _StderrHandler) for h in ours)
    return configure_logging(home, stderr=stderr)


class _QuietFileHandler(RotatingFileHandler):
    """The log file must never break the work it records: a full or read-only disk drops
    the line (the stderr copy, and the command's own error, still say what happened)."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        pass


class _StderrHandler(logging.StreamHandler):
    """stderr looked up per record: the CLI and Dagster swap `sys.stderr` for captures."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)
