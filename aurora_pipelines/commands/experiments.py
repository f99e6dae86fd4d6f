"""`aurora experiments ...`: create and list experiment specs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aurora_pipelines.commands.common import acting_settings, console
from aurora_pipelines.settings import get_settings

app = typer.Typer(help="Create and list experiment specs.", no_args_is_help=True)


@app.command("create")
def experiments_create(
    name: Annotated[str, typer.Argument(help="Experiment name (lower_snake_case).")],
    source: Annotated[str, typer.Option(help="CSV/Parquet file, Delta dir, or database.table.")],
    target: Annotated[str, typer.Option(help="Target column.")],
    team: Annotated[str | None, typer.Option(help="Owning team (default: caller's team).")] = None,
    problem: Annotated[str, typer.Option(help="classification or regression.")] = "classification",
    id_column: Annotated[str | None, typer.Option(help="Row identifier column.")] = None,
    time_column: Annotated[str | None, typer.Option(help="Event-time column.")] = None,
) -> None:
    """Write experiments/NAME.yaml (and its dbt models) after checking the source and target."""
    from aurora_pipelines.experiments import create_experiment

    # Creating reads the source: a data-access request, made as the authenticated caller.
    with acting_settings(get_settings(), "experiments create", f"experiment/{name}") as settings:
        created = create_experiment(
            settings,
            name=name,
            source=source,
            target=target,
            team=team,
            problem_type=problem,
            id_column=id_column,
            time_column=time_column,
        )
    console.print(f"created experiment [bold]{name}[/bold]: {created.spec_path}")
    for path in created.dbt_files:
        console.print(f"  dbt: {path}")
    console.print(f"next: edit the feature model, then `aurora run {name}`")


@app.command("list")
def experiments_list() -> None:
    """List experiment specs."""
    from aurora_pipelines.specs import load_specs

    table = Table("name", "team", "owner", "source", "target", "problem")
    for spec in load_specs(get_settings().experiments_dir):
        table.add_row(
            spec.name,
            spec.team,
            spec.owner,
            spec.source.display,
            spec.target,
            spec.problem_type.value,
        )
    console.print(table)
