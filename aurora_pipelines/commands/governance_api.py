"""`aurora tokens ...` and `aurora governance serve`: the governance HTTP API and the bearer
tokens it authenticates with."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from aurora_pipelines.commands.common import caller, console, governance_store
from aurora_pipelines.settings import get_settings

tokens_app = typer.Typer(help="Bearer tokens for the governance HTTP API.", no_args_is_help=True)
governance_app = typer.Typer(help="The governance HTTP API.", no_args_is_help=True)


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Argument(help="Policy user the token authenticates as.")],
    label: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
) -> None:
    """Create a token for USER (yourself, or anyone if you are an admin); printed once."""
    settings = get_settings()
    token, info = governance_store(settings).create_token(user, caller(settings), label)
    typer.echo(token)
    typer.echo(
        f"token #{info.id} for {info.user_name} ({info.prefix}…): shown once, only its sha256 "
        f"is stored; revoke with `aurora tokens revoke {info.id}`",
        err=True,
    )


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(help="Token id (tokens list).")]) -> None:
    """Revoke a token (its owner or an admin); later use is refused and audited."""
    settings = get_settings()
    info = governance_store(settings).revoke_token(token_id, caller(settings))
    typer.echo(f"token #{info.id} of {info.user_name} revoked by {info.revoked_by}")


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
) -> None:
    """Tokens (prefix, owner, state); never the tokens themselves."""
    table = Table("id", "user", "prefix", "label", "created_by", "created_at", "revoked")
    for info in governance_store(get_settings()).list_tokens(user):
        table.add_row(
            str(info.id),
            info.user_name,
            info.prefix + "…",
            info.label or "",
            info.created_by,
            f"{info.created_at:%Y-%m-%d %H:%M}",
            f"by {info.revoked_by}" if info.revoked_at else "",
        )
    console.print(table)


@governance_app.command("serve")
def governance_serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
) -> None:
    """Serve the governance HTTP API (OpenAPI at /docs) and the checker's page (/ui)."""
    import uvicorn

    from aurora_pipelines.governance.api import create_app
    from aurora_pipelines.governance.web.evidence import MlflowFacts

    settings = get_settings()
    app = create_app(governance_store(settings), registry=MlflowFacts(settings.tracking_uri))
    uvicorn.run(app, host=host, port=port, log_level="warning")
