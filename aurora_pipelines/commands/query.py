"""`aurora query "SELECT ..."` and `aurora queries save|list|history|favourite`.

A query runs as the authenticated caller: only tables their team may read, PII masked or
dropped, one server-side page at a time, audited with its hash and row count.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from aurora_pipelines.commands.common import acting, console, get_settings, print_error
from aurora_pipelines.errors import SourceError

FORMATS = ("table", "json", "csv")

queries_app = typer.Typer(
    help="Saved queries (typed {{ params }}), your query history and favourites.",
    no_args_is_help=True,
)


def _print_result(result: Any, format_: str) -> None:
    data = result.as_json()
    if format_ == "json":
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    if format_ == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow([c["name"] for c in data["columns"]])
        writer.writerows(data["rows"])
    else:
        table = Table(*[c["name"] for c in data["columns"]])
        for row in data["rows"]:
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)
        more = f"; next: --page {data['next_page']}" if data["has_more"] else "; last page"
        typer.echo(
            f"page {data['page']}: {data['row_count']} row(s) in {data['elapsed_ms']:.0f} ms"
            f"{more} (history #{data['history_id']})",
            err=True,
        )
    for hint in data["suggestions"]:
        typer.echo(f"hint: {hint}", err=True)


def query(
    sql: Annotated[str | None, typer.Argument(help="One SELECT over catalog tables.")] = None,
    limit: Annotated[int, typer.Option(help="Rows per page (server maximum 1000).")] = 100,
    page: Annotated[int, typer.Option(help="Page number, from 1.")] = 1,
    format_: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
    saved: Annotated[
        str | None, typer.Option("--saved", help="Run this saved query instead of SQL.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="NAME=VALUE for a saved query.")
    ] = None,
) -> None:
    """Run one page of a read-only query as yourself (grants, PII masking, audit)."""
    from aurora_pipelines.sources.browse import browser_for
    from aurora_pipelines.sources.query_params import parse_assignments

    if format_ not in FORMATS:
        raise SourceError(f"--format {format_} is not one of {', '.join(FORMATS)}")
    if (sql is None) == (saved is None):
        raise SourceError('give either a SELECT or `--saved NAME`, e.g. aurora query "SELECT 1"')
    settings = get_settings()
    with acting(settings, "query", saved or "sql") as identity:
        browser = browser_for(settings, identity.name)
        if saved:
            values = parse_assignments(param or [])
            result = browser.run_saved(saved, values, page=page, limit=limit)
        else:
            if param:
                raise SourceError("`--param` applies to `--saved NAME` queries only")
            result = browser.run_query(sql or "", page=page, limit=limit)
    _print_result(result, format_)


@queries_app.command("save")
def queries_save(
    name: Annotated[str, typer.Argument(help="A unique name.")],
    sql: Annotated[str, typer.Argument(help="SELECT with {{ name }} where a value goes.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", help="NAME:TYPE (int, float, str, date, bool).")
    ] = None,
    share: Annotated[bool, typer.Option("--share", help="Share with your team.")] = False,
    description: Annotated[str, typer.Option(help="What it answers.")] = "",
) -> None:
    """Save a named query; its parameters are typed and always bound, never pasted in."""
    from aurora_pipelines.sources.browse import browser_for
    from aurora_pipelines.sources.query_params import parse_declarations

    settings = get_settings()
    with acting(settings, "queries save", name) as identity:
        saved = browser_for(settings, identity.name).save_query(
            name, sql, parse_declarations(param or []), shared=share, description=description
        )
    where = f"shared with team {saved.team}" if saved.team else "private"
    typer.echo(f"saved query '{saved.name}' ({where}); run: aurora query --saved {saved.name}")


@queries_app.command("list")
def queries_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The saved queries you may run (yours and your team's)."""
    from aurora_pipelines.sources.browse import browser_for

    settings = get_settings()
    with acting(settings, "queries list", "*") as identity:
        found = browser_for(settings, identity.name).saved_queries()
    if as_json:
        typer.echo(json.dumps([s.as_json() for s in found], indent=2))
        return
    table = Table("name", "owner", "shared with", "parameters", "sql")
    for s in found:
        params = ", ".join(f"{k}:{v}" for k, v in s.params.items())
        table.add_row(s.name, s.owner, s.team or "-", params, " ".join(s.sql.split())[:70])
    console.print(table)


@queries_app.command("history")
def queries_history(
    last: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    search: Annotated[str | None, typer.Option(help="Only queries whose SQL has this.")] = None,
    favourites: Annotated[bool, typer.Option("--favourites", help="Only starred.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Your own latest queries (hash, tables, rows)."""
    from aurora_pipelines.sources.browse import browser_for

    settings = get_settings()
    with acting(settings, "queries history", "*") as identity:
        found = browser_for(settings, identity.name).history(last, search, favourites)
    if as_json:
        typer.echo(json.dumps([h.as_json() for h in found], indent=2))
        return
    table = Table("#", "ran at", "★", "rows", "sql")
    for h in found:
        star = "★" if h.favourite else ""
        sql = h.saved_query and f"--saved {h.saved_query}" or " ".join(h.sql.split())[:80]
        table.add_row(
            str(h.id), h.ran_at.strftime("%Y-%m-%d %H:%M:%S"), star, str(h.row_count), sql
        )
    console.print(table)
    if not found:
        print_error("no query in your history matches") if search else None


@queries_app.command("favourite")
def queries_favourite(
    entry: Annotated[int, typer.Argument(help="History entry number (#).")],
    off: Annotated[bool, typer.Option("--off", help="Unstar it.")] = False,
) -> None:
    """Star (or unstar) a query of your history."""
    from aurora_pipelines.sources.browse import browser_for

    settings = get_settings()
    with acting(settings, "queries favourite", str(entry)) as identity:
        browser_for(settings, identity.name).favourite(entry, not off)
    typer.echo(f"history #{entry} {'unstarred' if off else 'starred'}")
