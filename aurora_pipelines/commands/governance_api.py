"""`aurora tokens ...` and `aurora governance serve`: the personal tokens the CLI and the
governance HTTP API authenticate with, and the API itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from aurora_pipelines.commands.common import acting, console, get_settings, governance_store
from aurora_pipelines.errors import PermissionDenied

if TYPE_CHECKING:
    from aurora_pipelines.governance.tokens import TokenInfo
    from aurora_pipelines.settings import Settings

DEFAULT_TOKEN_DAYS = 90

tokens_app = typer.Typer(
    help="Personal tokens for the CLI (`aurora login`) and the governance HTTP API.",
    no_args_is_help=True,
)
governance_app = typer.Typer(help="The governance HTTP API.", no_args_is_help=True)


def _bootstrap_token(
    settings: Settings, user: str, label: str | None, expires_at: datetime | None
) -> tuple[str, TokenInfo]:
    """The first token of a deployment, for an admin, when no token exists yet to create it
    with; audited with `auth=bootstrap`."""
    from aurora_pipelines.governance import audit

    store = governance_store(settings)
    if store.token_count():
        raise PermissionDenied(
            "--bootstrap only creates the first token of a deployment, and tokens exist; "
            "ask an admin for one (`aurora tokens create USER`)"
        )
    if "admin" not in store.policy.user(user).roles:
        raise PermissionDenied(
            f"--bootstrap creates a token for an admin, and {user} is not one; name a user "
            "with the admin role in the policy"
        )
    with audit.authenticated_as({"auth": "bootstrap"}):
        return store.create_token(user, user, label, expires_at)


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Argument(help="Policy user the token authenticates as.")],
    label: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
    expires_in_days: Annotated[
        float, typer.Option(help="Days until the token stops working (0: never).", min=0)
    ] = DEFAULT_TOKEN_DAYS,
    bootstrap: Annotated[
        bool,
        typer.Option(
            "--bootstrap", help="The deployment's first token, for an admin (no token exists)."
        ),
    ] = False,
) -> None:
    """Create a token for USER (yourself, or anyone if you are an admin); printed once."""
    settings = get_settings()
    expires_at = (
        datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days > 0 else None
    )
    if bootstrap:
        token, info = _bootstrap_token(settings, user, label, expires_at)
    else:
        with acting(settings, "tokens create", f"user/{user}") as me:
            token, info = governance_store(settings).create_token(user, me.name, label, expires_at)
    typer.echo(token)
    until = f"expires {info.expires_at:%Y-%m-%d}" if info.expires_at else "never expires"
    typer.echo(
        f"token #{info.id} for {info.user_name} ({info.prefix}…, {until}): shown once, only its "
        f"sha256 is stored; `aurora login` saves it for the CLI; revoke with "
        f"`aurora tokens revoke {info.id}`",
        err=True,
    )


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(help="Token id (tokens list).")]) -> None:
    """Revoke a token (its owner or an admin); later use is refused and audited."""
    settings = get_settings()
    with acting(settings, "tokens revoke", f"token/{token_id}") as me:
        info = governance_store(settings).revoke_token(token_id, me.name)
    typer.echo(f"token #{info.id} of {info.user_name} revoked by {info.revoked_by}")


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
) -> None:
    """Tokens (prefix, owner, state); never the tokens themselves."""
    settings = get_settings()
    table = Table("id", "user", "prefix", "label", "created_by", "created_at", "expires", "revoked")
    with acting(settings, "tokens list", f"user/{user or '*'}"):
        infos = governance_store(settings).list_tokens(user)
    for info in infos:
        table.add_row(
            str(info.id),
            info.user_name,
            info.prefix + "…",
            info.label or "",
            info.created_by,
            f"{info.created_at:%Y-%m-%d %H:%M}",
            f"{info.expires_at:%Y-%m-%d %H:%M}" if info.expires_at else "never",
            f"by {info.revoked_by}" if info.revoked_at else "",
        )
    console.print(table)


@governance_app.command("serve")
def governance_serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
) -> None:
    """Serve the platform HTTP API (governance, experiments, sources, queries, runs; OpenAPI at
    /docs) and the checker's page (/ui)."""
    import uvicorn

    from aurora_pipelines.governance.web.evidence import MlflowFacts
    from aurora_pipelines.platform_api.app import create_platform_app
    from aurora_pipelines.structured_logs import configure_logging

    settings = get_settings()
    configure_logging(settings.root, stderr=True)  # a service's stderr is a log stream
    app = create_platform_app(
        settings, governance_store(settings), registry=MlflowFacts(settings.tracking_uri)
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
