"""`aurora sources list|show`: the catalog tables your team may read, and what they hold."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from aurora_pipelines.commands.common import acting, console, get_settings

app = typer.Typer(help="Browse the tables your team may read.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Wire `sources`, `query`, `queries` and `runs` into the `aurora` app."""
    from aurora_pipelines.commands import query, runs

    root.add_typer(app, name="sources")
    root.command("query")(query.query)
    root.add_typer(query.queries_app, name="queries")
    root.add_typer(runs.app, name="runs")


@app.command("list")
def sources_list(
    database: Annotated[str | None, typer.Option(help="Only this database.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The catalog tables your team's grants allow (others are not listed)."""
    from aurora_pipelines.sources.browse import browser_for

    settings = get_settings()
    with acting(settings, "sources list", database or "*") as identity:
        found = browser_for(settings, identity.name).list_sources(database)
    if as_json:
        typer.echo(json.dumps([s.__dict__ for s in found], indent=2))
        return
    table = Table("table", "format", "partitioned by", "readable by (your teams)")
    for s in found:
        table.add_row(s.name, s.format, ", ".join(s.partition_columns), ", ".join(s.teams))
    console.print(table)
    if not found:
        typer.echo("no table you may read" + (f" in database '{database}'" if database else ""))


@app.command("show")
def sources_show(
    name: Annotated[str, typer.Argument(help="database.table")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Columns, types, row count and PII rules of one table you may read."""
    from aurora_pipelines.sources.browse import browser_for

    settings = get_settings()
    with acting(settings, "sources show", name) as identity:
        detail = browser_for(settings, identity.name).show_source(name)
    if as_json:
        out = {**detail.__dict__, "columns": [c.__dict__ for c in detail.columns]}
        typer.echo(json.dumps(out, indent=2))
        return
    console.print(
        f"[bold]{detail.name}[/bold]  {detail.format}, {detail.rows:,} rows"
        + (
            f", partitioned by {', '.join(detail.partition_columns)}"
            if detail.partition_columns
            else ""
        )
        + f"; readable by your team(s): {', '.join(detail.teams)}"
    )
    table = Table("column", "type", "PII")
    for c in detail.columns:
        shown = {"drop": "dropped (never visible)", "mask": "masked (HMAC-SHA256)"}
        table.add_row(c.name, c.type, shown.get(c.pii or "", ""))
    console.print(table)
