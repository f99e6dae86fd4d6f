"""Who is acting at the command line: a personal token, resolved by its hash to a policy user.

The token comes from AURORA_TOKEN or from the file `aurora login` writes (0600, under
XDG_CONFIG_HOME or ~/.config: `aurora/token`). AURORA_USER alone names the caller only when
the policy says `identity: trust_env` (the embedded demo's policy, for a laptop); otherwise
anyone with the CLI and the database could act as anyone. Every refusal is audited as
`access_denied`, and every action is audited with how its actor was established (`auth`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurora_pipelines.errors import PermissionDenied
from aurora_pipelines.governance import audit
from aurora_pipelines.governance.tokens import Unauthenticated

if TYPE_CHECKING:
    from aurora_pipelines.governance.store import GovernanceStore

TOKEN_ENV = "AURORA_TOKEN"
TOKEN = "token"
TRUST_ENV = "trust_env"
LOGIN_FIX = "run `aurora login` with your personal token (or set AURORA_TOKEN)"


class InsecureTokenFile(PermissionDenied):
    """The token file could be read or replaced by someone else."""


@dataclass(frozen=True)
class Identity:
    """An established caller: the policy user and how we know (`token` or `trust_env`)."""

    name: str
    auth: str
    token_id: int | None = None
    token_prefix: str | None = None
    source: str | None = None  # where the token came from: AURORA_TOKEN or the file's path

    def audit_details(self) -> dict[str, Any]:
        """What every audit row written on this caller's behalf records about the caller."""
        if self.auth == TOKEN:
            return {"auth": TOKEN, "token_id": self.token_id}
        return {"auth": self.auth}


def token_path(env: Mapping[str, str] | None = None) -> Path:
    """Where `aurora login` keeps the token: $XDG_CONFIG_HOME/aurora/token, else
    ~/.config/aurora/token."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(base).expanduser() / "aurora" / "token"


def read_token_file(path: Path) -> str | None:
    """The token in `path` (None if there is no file); refused when others could read or
    replace it, with the command that fixes it."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise InsecureTokenFile(
            f"token file {path} is not a regular file; delete it and run `aurora login` again"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise InsecureTokenFile(
            f"token file {path} belongs to uid {info.st_uid}, not to you; delete it and run "
            "`aurora login` again"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise InsecureTokenFile(
            f"token file {path} is readable or writable by group/others (mode {mode:04o}); "
            f"run `chmod 600 {path}` (and revoke the token if others may have read it)"
        )
    token = path.read_text(encoding="utf-8").strip()
    return token or None


def save_token(token: str, path: Path) -> Path:
    """Write `token` to `path` as a 0600 file (directory 0700), replacing any old one whole."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.unlink(missing_ok=True)
    # O_EXCL with mode 0600: the token is never readable by others, not even for an instant.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (token.strip() + "\n").encode("utf-8"))
    finally:
        os.close(fd)
    os.replace(partial, path)
    return path


def presented_token(env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(token, where it came from): AURORA_TOKEN first, else the login file; None if neither."""
    env = os.environ if env is None else env
    if env.get(TOKEN_ENV, "").strip():
        return env[TOKEN_ENV].strip(), TOKEN_ENV
    path = token_path(env)
    token = read_token_file(path)
    return None if token is None else (token, str(path))


def _refuse(
    store: GovernanceStore, action: str, target: str, reason: str, claimed: str | None
) -> None:
    audit.append_audit(
        store.engine,
        audit.ACCESS_DENIED,
        claimed or "<anonymous>",
        target,
        {"action": action, "reason": reason, "claimed_user": claimed},
    )


def resolve_identity(
    store: GovernanceStore,
    *,
    claimed_user: str | None,
    action: str,
    target: str,
    env: Mapping[str, str] | None = None,
    required: bool = True,
) -> Identity | None:
    """The caller of `action` on `target`, established by a valid token, or (only under
    `identity: trust_env`) by AURORA_USER (`claimed_user`).

    Refusals raise PermissionDenied / Unauthenticated with the fix and are audited. With
    `required=False`, a trust_env policy and no AURORA_USER give None (the command then acts as
    before: the experiment's owner or team).
    """
    where = f"cli:{action} {target}"
    try:
        presented = presented_token(env)
    except InsecureTokenFile as exc:
        _refuse(store, action, where, str(exc), claimed_user)
        raise
    if presented is not None:
        token, source = presented
        info = store.authenticate_token(token, where)  # refusals audited there
        if claimed_user and claimed_user != info.user_name:
            reason = (
                f"AURORA_USER is '{claimed_user}' but your token ({source}) is "
                f"{info.user_name}'s; unset AURORA_USER (the token says who you are)"
            )
            _refuse(store, action, where, reason, claimed_user)
            raise PermissionDenied(reason)
        return Identity(info.user_name, TOKEN, info.id, info.prefix, source)
    if store.policy.trusts_env:
        if not claimed_user:
            if not required:
                return None
            names = ", ".join(u.name for u in store.policy.users)
            raise PermissionDenied(
                f"{action} needs a caller: set AURORA_USER to one of {names} (this policy "
                f"trusts AURORA_USER: identity: trust_env), or {LOGIN_FIX}"
            )
        try:
            store.policy.user(claimed_user)
        except PermissionDenied as exc:  # an unknown name; the message lists the valid ones
            _refuse(store, action, where, str(exc), claimed_user)
            raise
        return Identity(claimed_user, TRUST_ENV)
    reason = (
        f"{action} needs your personal token: {LOGIN_FIX}; this policy does not trust "
        "AURORA_USER (it has no `identity: trust_env`)"
    )
    _refuse(store, action, where, reason, claimed_user)
    raise Unauthenticated(reason)
