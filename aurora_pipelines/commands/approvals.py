"""`aurora approvals ...`: list, show and decide approval requests (maker-checker)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from aurora_pipelines.commands.common import acting, console, get_settings, governance_store

app = typer.Typer(help="List and decide approval requests.", no_args_is_help=True)


@app.command("list")
def approvals_list(
    experiment: Annotated[str | None, typer.Option(help="Only this experiment.")] = None,
    status_: Annotated[str | None, typer.Option("--status", help="e.g. pending.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Approval requests, newest first."""
    from aurora_pipelines.governance.sqlite_reads import read_requests

    requests = read_requests(get_settings(), experiment=experiment, status=status_)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in requests], indent=2, default=str))
        return
    table = Table("id", "experiment", "gate", "model", "status", "requested_by", "decided_by")
    for r in requests:
        table.add_row(
            str(r.id),
            r.experiment,
            r.gate,
            f"{r.model_name} v{r.model_version}",
            r.status,
            r.requested_by,
            r.decided_by or "",
        )
    console.print(table)


@app.command("show")
def approvals_show(
    request_id: Annotated[int, typer.Argument(help="Approval request id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """One request with its evidence (model card, UAT report and metrics) and decisions."""
    request = governance_store(get_settings()).get_request(request_id)
    if as_json:
        typer.echo(json.dumps(request.to_dict(), indent=2, default=str))
        return
    console.print(
        f"approval request #{request.id}: {request.gate} gate, {request.model_name} "
        f"v{request.model_version} ({request.model_digest[:12]}…), {request.status}; "
        f"requested by {request.requested_by}"
    )
    for key, value in (request.details or {}).items():
        text = json.dumps(value, default=str) if isinstance(value, dict | list) else value
        console.print(f"  {key}: {text}")
    for d in request.decisions:
        console.print(f"  decision: {d.decision} by {d.actor} ({d.role}): {d.comment or ''}")


def _decide(request_id: int, decision: str, comment: str) -> None:
    settings = get_settings()
    with acting(settings, f"approvals {decision}", f"approval/{request_id}") as me:
        request = governance_store(settings).decide(
            request_id, decision, actor=me.name, comment=comment
        )
    console.print(
        f"approval request #{request.id} ({request.gate} gate, {request.model_name} "
        f"v{request.model_version}) is now {request.status} by {request.decided_by}"
    )
    if request.status == "approved":
        console.print(
            f"continue with `aurora run {request.experiment}` "
            "(or let the approval sensor launch the promotion)"
        )


@app.command("approve")
def approvals_approve(
    request_id: Annotated[int, typer.Argument(help="Approval request id.")],
    comment: Annotated[str, typer.Option(help="Why you approve.")] = "",
) -> None:
    """Approve a pending request as yourself (your token; see `aurora login`)."""
    _decide(request_id, "approve", comment)


@app.command("reject")
def approvals_reject(
    request_id: Annotated[int, typer.Argument(help="Approval request id.")],
    comment: Annotated[str, typer.Option(help="Why you reject (required).")] = "",
) -> None:
    """Reject a pending request as yourself (a comment is required)."""
    _decide(request_id, "reject", comment)


@app.command("request-changes")
def approvals_request_changes(
    request_id: Annotated[int, typer.Argument(help="Approval request id.")],
    comment: Annotated[str, typer.Option(help="What must change (required).")] = "",
) -> None:
    """Send a pending request back to the maker as yourself (a comment is required)."""
    _decide(request_id, "request_changes", comment)
