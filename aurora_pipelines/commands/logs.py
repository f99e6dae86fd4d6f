"""The CLI's structured log: one `command_started` and one `command_finished` line per command,
under a correlation id that `aurora run` hands on to the Dagster run, MLflow and the audit."""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

from aurora_pipelines.structured_logs import configure_logging, log_context

LOG = logging.getLogger("aurora.cli")
# Set it to continue an id from a caller (a scheduler, a ticket); else each command has its own.
CORRELATION_ENV = "AURORA_CORRELATION_ID"


def command_path(app: Any, args: list[str]) -> str:
    """The command words of `args` (`experiments list`), never option values or arguments,
    which can hold names a log should not (paths, SQL)."""
    import typer.main

    group = typer.main.get_command(app)
    words: list[str] = []
    for arg in args:
        commands = getattr(group, "commands", None)
        if not commands or arg not in commands:
            break
        words.append(arg)
        group = commands[arg]
    return " ".join(words)


@contextlib.contextmanager
def cli_log_context(app: Any, args: list[str]) -> Iterator[None]:
    """Log the command's start and its exit code under one correlation id."""
    from aurora_pipelines.settings import get_settings

    settings = get_settings()
    # An unwritable home is the command's own error to report, not the logger's.
    with contextlib.suppress(OSError):
        configure_logging(settings.root, stderr=False)
    command = command_path(app, args)
    correlation_id = os.environ.get(CORRELATION_ENV) or uuid.uuid4().hex
    started = time.monotonic()
    code: Any = 0
    with log_context(correlation_id=correlation_id, actor=settings.user):
        started_event = {"event": "command_started", "command": command}
        LOG.info("aurora %s", command, extra={"fields": started_event})
        try:
            yield
        except SystemExit as exc:
            code = exc.code
            raise
        finally:
            LOG.log(
                logging.INFO if not code else logging.WARNING,
                "aurora %s exited %s",
                command,
                code or 0,
                extra={
                    "fields": {
                        "event": "command_finished",
                        "command": command,
                        "exit_code": code or 0,
                        "seconds": round(time.monotonic() - started, 3),
                    }
                },
            )


def log_refusal(message: str) -> None:
    """The one-line error a user caused, as a log event too (stderr shows it once already)."""
    LOG.warning(message, extra={"fields": {"event": "command_refused"}})
