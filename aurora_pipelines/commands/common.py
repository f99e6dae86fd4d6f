"""What every command module shares: the console, the caller's identity, the governance store
and the one-line error format."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:  # the store imports SQLAlchemy: only commands that use it pay for it
    from aurora_pipelines.governance.identity import Identity
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.settings import Settings

console = Console(soft_wrap=True)


@contextlib.contextmanager
def acting(settings: Settings, action: str, target: str) -> Iterator[Identity]:
    """The authenticated caller of a privileged command (a decision, a deployment action, a
    token operation): a valid personal token, or AURORA_USER under `identity: trust_env`.

    Refused (and audited) without one. Every audit row written inside the block records how
    the caller was established (`auth=token` with the token id, or `auth=trust_env`).
    """
    from aurora_pipelines.governance import audit
    from aurora_pipelines.governance.identity import resolve_identity

    identity = resolve_identity(
        governance_store(settings), claimed_user=settings.user, action=action, target=target
    )
    assert identity is not None  # required=True: refused rather than None
    with audit.authenticated_as(identity.audit_details()):
        yield identity


@contextlib.contextmanager
def acting_settings(settings: Settings, action: str, target: str) -> Iterator[Settings]:
    """`settings` whose `user` is the authenticated caller, for commands that read data or
    launch runs. Under `identity: trust_env` without AURORA_USER they act as before (as the
    experiment's owner or team); under a token policy a token is required."""
    from aurora_pipelines.governance import audit
    from aurora_pipelines.governance.identity import TRUST_ENV, resolve_identity

    identity = resolve_identity(
        governance_store(settings),
        claimed_user=settings.user,
        action=action,
        target=target,
        required=False,
    )
    if identity is None:
        with audit.authenticated_as({"auth": TRUST_ENV}):
            yield settings
        return
    with audit.authenticated_as(identity.audit_details()):
        yield settings.model_copy(update={"user": identity.name})


def get_settings() -> Settings:
    """Settings read from the environment now. Imported on first call: pydantic costs more
    than all of `aurora --help`, which needs no settings."""
    from aurora_pipelines.settings import get_settings as read_settings

    return read_settings()


def governance_store(settings: Settings) -> GovernanceStore:
    """The governance store of these settings (approvals, tokens, audit)."""
    from aurora_pipelines.governance.store import GovernanceStore

    return GovernanceStore.from_settings(settings)


def print_error(message: str) -> None:
    """Print `error: MESSAGE` on stderr, the one-line form of every error a user can cause."""
    typer.echo(f"error: {message}", err=True)
