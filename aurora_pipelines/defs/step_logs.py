"""Every stage step runs inside a log context (experiment, stage, run id, correlation id,
actor) and logs `step_started` / `step_finished` / `step_failed` as JSON lines.

A user-caused error (`AuroraError`) becomes a `dg.Failure` that is not retried: a retry policy
is for a flaky network, and a bad spec stays bad however often it is re-read.
"""

import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

from aurora_pipelines.errors import AuroraError
from aurora_pipelines.settings import get_settings
from aurora_pipelines.structured_logs import ensure_logging, log_context

LOG = logging.getLogger("aurora.dagster.step")


def _context_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    candidates = [*args, *kwargs.values()]
    kinds = (dg.AssetExecutionContext, dg.OpExecutionContext)
    found = next((c for c in candidates if isinstance(c, kinds)), None)
    if found is not None:
        return found
    # An asset that takes no `context` still runs in one: its lines need the run's id too.
    try:
        return dg.OpExecutionContext.get()
    except dg.DagsterInvariantViolationError:  # called outside a Dagster step
        return None


@contextmanager
def step_log_context(context: Any, experiment: str, stage: str) -> Iterator[None]:
    """The log context of one step; the run's tags give its correlation id and actor."""
    from aurora_pipelines.defs.assets.metadata import actor_of

    # A step may run in its own process (multiprocess executor, a run worker): configure there.
    ensure_logging(get_settings().root, stderr=True)
    run_id = context.run_id if context is not None else None
    tags = context.run.tags if context is not None else {}
    with log_context(
        experiment=experiment,
        stage=stage,
        run_id=run_id,
        correlation_id=tags.get("aurora/correlation_id") or run_id,
        actor=actor_of(context) if context is not None else None,
    ):
        started = time.monotonic()
        LOG.info("%s/%s started", experiment, stage, extra={"fields": {"event": "step_started"}})
        try:
            yield
        except BaseException as exc:
            LOG.error(
                "%s/%s failed: %s",
                experiment,
                stage,
                exc,
                extra={"fields": {"event": "step_failed", "error_type": type(exc).__name__}},
            )
            raise
        LOG.info(
            "%s/%s finished",
            experiment,
            stage,
            extra={
                "fields": {
                    "event": "step_finished",
                    "seconds": round(time.monotonic() - started, 3),
                }
            },
        )


def _not_retried(exc: AuroraError) -> dg.Failure:
    return dg.Failure(description=str(exc), allow_retries=False)


def observed(fn: Callable[..., Any], experiment: str, stage: str) -> Callable[..., Any]:
    """`fn` (an asset's compute function) run inside its step's log context; the signature
    Dagster reads (context, resources) is kept by `functools.wraps`."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
            with step_log_context(_context_of(args, kwargs), experiment, stage):
                try:
                    yield from fn(*args, **kwargs)
                except AuroraError as exc:
                    if getattr(exc, "retryable", False):
                        raise  # a service down now may be up at the retry (ServiceUnavailable)
                    raise _not_retried(exc) from exc

        return stream

    @functools.wraps(fn)
    def step(*args: Any, **kwargs: Any) -> Any:
        with step_log_context(_context_of(args, kwargs), experiment, stage):
            try:
                return fn(*args, **kwargs)
            except AuroraError as exc:
                if getattr(exc, "retryable", False):
                    raise  # a service down now may be up at the retry (ServiceUnavailable)
                raise _not_retried(exc) from exc

    return step
