"""`aurora audit ...`: verify, read and export the hash-chained audit trail."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from aurora_pipelines.commands.common import console, get_settings, governance_store, print_error

app = typer.Typer(help="Verify and read the audit trail.", no_args_is_help=True)


@app.command("verify")
def audit_verify() -> None:
    """Exit 0 when the audit hash chain is intact and reaches the head recorded outside the
    database; otherwise name the first bad (or missing) row."""
    result = governance_store(get_settings()).verify_audit()
    if not result.ok:
        print_error(f"audit chain broken at seq {result.first_bad_seq}: {result.reason}")
        raise typer.Exit(1)
    if result.anchored_seq is not None:
        where = f"; head seq {result.anchored_seq} recorded in {result.anchor} matches"
    elif result.anchor:
        where = f"; no head recorded in {result.anchor} yet"
    else:
        where = (
            "; no head is recorded outside the database, so cut-off newest rows would go "
            "unnoticed: set AURORA_AUDIT_HEAD"
        )
    typer.echo(f"audit chain intact: {result.rows} rows{where}")


@app.command("show")
def audit_show(
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The newest audit rows."""
    rows = governance_store(get_settings()).read_audit(limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table("seq", "ts", "event", "actor", "target", "correlation_id")
    for row in rows:
        table.add_row(
            *(
                str(row.get(k, ""))
                for k in ("seq", "ts", "event", "actor", "target", "correlation_id")
            )
        )
    console.print(table)


@app.command("export")
def audit_export(
    format_: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    since: Annotated[str | None, typer.Option(help="ISO date/datetime (UTC if naive).")] = None,
    correlation_id: Annotated[str | None, typer.Option(help="Only this correlation id.")] = None,
    event: Annotated[str | None, typer.Option(help="Only this event.")] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
) -> None:
    """Export the audit trail for an auditor (JSON includes the chain verification)."""
    from pathlib import Path

    from aurora_pipelines.atomic_files import write_text_atomic

    text = governance_store(get_settings()).export_audit(
        format_.lower(), since=since, correlation_id=correlation_id, event=event
    )
    if output:
        write_text_atomic(Path(output), text, "the audit export")
        typer.echo(f"wrote {output}", err=True)
    else:
        typer.echo(text, nl=False)
