"""What every command module shares: the console, the caller's identity, the governance store
and the one-line error format."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

from aurora_pipelines.errors import PermissionDenied
from aurora_pipelines.settings import Settings

if TYPE_CHECKING:  # the store imports SQLAlchemy: only commands that use it pay for it
    from aurora_pipelines.governance.store import GovernanceStore

console = Console(soft_wrap=True)


def caller(settings: Settings) -> str:
    """The acting user (AURORA_USER); without one, governed actions are refused."""
    if not settings.user:
        raise PermissionDenied(
            "no caller identity: set AURORA_USER to your user name from the governance policy "
            f"({settings.policy})"
        )
    return settings.user


def governance_store(settings: Settings) -> GovernanceStore:
    """The governance store of these settings (approvals, tokens, audit)."""
    from aurora_pipelines.governance.store import GovernanceStore

    return GovernanceStore.from_settings(settings)


def print_error(message: str) -> None:
    """Print `error: MESSAGE` on stderr, the one-line form of every error a user can cause."""
    typer.echo(f"error: {message}", err=True)
