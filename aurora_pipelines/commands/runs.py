"""`aurora runs list|launch|status|cancel`: an experiment's Dagster runs, launched through the
Dagster webserver (`make ui`), audited, with a link to their logs."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from aurora_pipelines.commands.common import acting, console, get_settings

app = typer.Typer(help="Launch, follow and cancel experiment runs.", no_args_is_help=True)


def _show(info, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(info.as_json(), indent=2))
        return
    typer.echo(f"run {info.run_id} ({info.job}): {info.status}; logs: {info.logs_url}")


@app.command("list")
def runs_list(
    experiment: Annotated[str | None, typer.Option(help="Only this experiment's runs.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The newest runs in the Dagster instance."""
    from aurora_pipelines.defs.run_control import run_control_for

    found = run_control_for(get_settings()).list_runs(experiment, limit)
    if as_json:
        typer.echo(json.dumps([i.as_json() for i in found], indent=2))
        return
    table = Table("run id", "job", "status", "launched by", "started", "logs")
    for i in found:
        table.add_row(
            i.run_id, i.job, i.status, i.launched_by or "", i.started_at or "", i.logs_url
        )
    console.print(table)


@app.command("launch")
def runs_launch(
    experiment: Annotated[str, typer.Argument(help="Experiment name.")],
    job: Annotated[
        str, typer.Option(help="lifecycle, refresh_sources, retrain or score_and_monitor.")
    ] = "lifecycle",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Launch an experiment's job through the Dagster webserver, as yourself."""
    from aurora_pipelines.defs.run_control import run_control_for

    settings = get_settings()
    with acting(settings, "runs launch", experiment) as identity:
        info = run_control_for(settings).launch(identity.name, experiment, job)
    _show(info, as_json)


@app.command("status")
def runs_status(
    run_id: Annotated[str, typer.Argument(help="Dagster run id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A run's status and its logs link."""
    from aurora_pipelines.defs.run_control import run_control_for

    _show(run_control_for(get_settings()).status(run_id), as_json)


@app.command("cancel")
def runs_cancel(
    run_id: Annotated[str, typer.Argument(help="Dagster run id.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ask Dagster to terminate a queued or running run."""
    from aurora_pipelines.defs.run_control import run_control_for

    settings = get_settings()
    with acting(settings, "runs cancel", run_id) as identity:
        info = run_control_for(settings).cancel(identity.name, run_id)
    _show(info, as_json)
