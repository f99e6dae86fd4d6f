"""`aurora login | logout | whoami`: the personal token the CLI authenticates with."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from aurora_pipelines.commands.common import console, get_settings, governance_store


def login(
    token_stdin: Annotated[
        bool, typer.Option("--token-stdin", help="Read the token from stdin (no prompt).")
    ] = False,
) -> None:
    """Check your personal token (from `aurora tokens create`) and save it, readable only by
    you (0600), where every later command finds it."""
    from aurora_pipelines.governance.identity import TOKEN_ENV, save_token, token_path

    if token_stdin or not sys.stdin.isatty():
        token = sys.stdin.readline().strip()
    else:
        token = typer.prompt("token", hide_input=True).strip()
    # An unknown, revoked or expired token is refused (and audited) before anything is saved.
    info = governance_store(get_settings()).authenticate_token(token, "cli:login")
    path = save_token(token, token_path())
    until = f"expires {info.expires_at:%Y-%m-%d}" if info.expires_at else "never expires"
    console.print(
        f"logged in as [bold]{info.user_name}[/bold] (token {info.prefix}…, {until}); "
        f"saved to {path} (mode 0600)"
    )
    if os.environ.get(TOKEN_ENV):
        console.print(f"note: {TOKEN_ENV} is set and is used instead of the saved token")


def logout() -> None:
    """Delete the saved token (it stays valid: `aurora tokens revoke` ends it)."""
    from aurora_pipelines.governance.identity import token_path

    path = token_path()
    if path.exists():
        path.unlink()
        console.print(f"removed {path}; revoke the token too if it may have leaked")
    else:
        console.print(f"no saved token at {path}")


def whoami() -> None:
    """Who the CLI acts as, and how it knows (token, or AURORA_USER under trust_env)."""
    from aurora_pipelines.commands.common import acting

    settings = get_settings()
    with acting(settings, "whoami", "identity") as me:
        user = governance_store(settings).policy.user(me.name)
    how = (
        f"token {me.token_prefix}… from {me.source}"
        if me.auth == "token"
        else "AURORA_USER, trusted because the policy says `identity: trust_env` (laptop only)"
    )
    console.print(f"{me.name} ({', '.join(user.roles)}; team {user.team}) via {how}")
