"""`aurora run`: one in-process Dagster run of an experiment, reported for a person."""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from aurora_pipelines.defs.runner import RunOutcome, instance_for, run_experiment
from aurora_pipelines.settings import Settings
from aurora_pipelines.specs import find_spec
from aurora_pipelines.structured_logs import current_context


def run_and_report(
    settings: Settings,
    name: str,
    *,
    full: bool,
    console: Console,
    partition: str | None = None,
) -> RunOutcome:
    """Run what the gates allow; say which approval is needed next and who may give it.

    `partition` is the day (YYYY-MM-DD) daily-partitioned assets run for; default today (UTC).
    """
    from aurora_pipelines.defs.definitions import build_definitions
    from aurora_pipelines.governance.store import GovernanceStore

    spec = find_spec(settings.experiments_dir, name)
    defs = build_definitions(settings)
    instance = instance_for(settings)
    governance = GovernanceStore.from_settings(settings)
    actor = settings.user or spec.owner
    # The CLI's own id (commands/logs.py), so its log lines and the run's share one.
    correlation_id = current_context().get("correlation_id") or uuid.uuid4().hex
    from aurora_pipelines.workspace.roles import TRAIN
    from aurora_pipelines.workspace.store import WorkspaceStore

    # Refused before any run starts (and audited): only owners and editors launch training.
    WorkspaceStore(governance).require(spec, actor, TRAIN, correlation_id)
    governance.audit(
        "run_started",
        actor=actor,
        target=f"experiment/{name}",
        details={"full": full},
        correlation_id=correlation_id,
    )
    # dbt, Spark and step output go to a log file; the console gets the outcome and next step.
    log_path = settings.root / "logs" / f"run-{name}-{correlation_id[:12]}.log"
    console.print(f"running {name} (log: {log_path}) ...")
    with _output_to(log_path):
        outcome = run_experiment(
            defs,
            spec,
            instance,
            full=full,
            partition=partition,
            tags={
                "aurora/correlation_id": correlation_id,
                "aurora/actor": actor,
                # Audited above; the run-audit sensor skips runs carrying this tag.
                "aurora/launched_by": "cli",
            },
        )
    governance.audit(
        "run_finished",
        actor=actor,
        target=f"experiment/{name}",
        details={
            "dagster_run_id": outcome.run_id,
            "success": outcome.success,
            "materialized": outcome.materialized,
            "partition": outcome.partition,
            "failed_checks": [f"{c.asset}:{c.check}" for c in outcome.failed_checks],
        },
        correlation_id=correlation_id,
    )
    _report(outcome, name, console)
    return outcome


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout/stderr (the file descriptors, so dbt, the JVM and Dagster's
    compute-log capture too) to `path` for the duration."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with path.open("ab") as log:
        try:
            for fd in saved:
                os.dup2(log.fileno(), fd)
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)


def _report(outcome: RunOutcome, name: str, console: Console) -> None:
    if outcome.up_to_date:
        console.print(
            f"[green]{name}: every stage is up to date[/green] (use --full to re-run everything)"
        )
        return
    console.print(
        f"run {outcome.run_id}: materialized {len(outcome.materialized)} of "
        f"{len(outcome.selected)} selected assets"
        + (f" (partition {outcome.partition})" if outcome.partition else "")
    )
    for key in outcome.materialized:
        console.print(f"  [green]✓[/green] {key}")
    for check in outcome.failed_checks:
        if check.check == "approved" and "approval_request_id" in check.metadata:
            request_id = check.metadata.get("approval_request_id", "?")
            approvers = check.metadata.get("approvers", "")
            first_approver = approvers.split(",")[0].strip() or "<approver>"
            console.print(
                f"[yellow]gate:[/yellow] {check.asset} needs a human decision: "
                f"{check.description}\n"
                f"  ask {approvers or 'an approver'} to decide, logged in as themselves "
                f"(`aurora login`; e.g. {first_approver}): aurora approvals approve {request_id} "
                "--comment '...'\n"
                f"  then continue with: aurora run {name}"
            )
        else:
            if check.blocking:
                label = "[red]gate failed:[/red]"
            elif check.severity == "ERROR":
                label = "[red]alert:[/red]"  # reported (and may trigger retraining), not a gate
            else:
                label = "[yellow]warning:[/yellow]"
            console.print(f"{label} {check.asset} {check.check}: {check.description}")
    for error in outcome.errors:
        console.print(f"[red]error:[/red] {error}")
