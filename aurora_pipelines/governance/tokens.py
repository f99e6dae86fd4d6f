"""Personal tokens for the governance HTTP API and the CLI: only their sha256 is stored.

A token is shown once, when created (`aurora tokens create USER`); the database keeps its hash,
a short prefix to recognise it by, who created or revoked it and when it expires. A token
authenticates as the user it was made for and nobody else; a revoked, expired or unknown token
and a token whose user left the policy are refused, and every refusal is audited as
`access_denied`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from aurora_pipelines.errors import NotFound, PermissionDenied
from aurora_pipelines.governance import audit
from aurora_pipelines.governance.models import api_tokens
from aurora_pipelines.governance.policy import Policy
from aurora_pipelines.governance.rows import row_data

TOKEN_PREFIX = "aur_"
ADMIN_ROLE = "admin"


class Unauthenticated(PermissionDenied):
    """No usable credential: missing, unknown, revoked or expired token."""


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user_name: str
    prefix: str
    label: str | None
    created_by: str
    created_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None
    expires_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: sa.Row) -> TokenInfo:
    data = row_data(row, "created_at", "revoked_at", "expires_at")
    del data["token_hash"]  # the hash stays in the database
    return TokenInfo(**data)


def _may_manage(policy: Policy, actor: str, owner: str) -> bool:
    return actor == owner or ADMIN_ROLE in policy.user(actor).roles


def create_token(
    engine: sa.Engine,
    policy: Policy,
    user: str,
    created_by: str,
    label: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, TokenInfo]:
    """A new token for `user` (made by that user or an admin): (the token, shown once; info).

    `expires_at` (None: never) is when the token stops authenticating.
    """
    target = f"user/{user}"
    try:
        policy.user(created_by)
        policy.user(user)
        if not _may_manage(policy, created_by, user):
            raise PermissionDenied(
                f"{created_by} may not create a token for {user}: only the user themself or an "
                "admin may; ask an admin"
            )
    except PermissionDenied as exc:
        audit.append_audit(
            engine,
            audit.ACCESS_DENIED,
            created_by or "<anonymous>",
            target,
            {"action": "create_token", "reason": str(exc)},
        )
        raise
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)

    def work(conn: sa.Connection) -> TokenInfo:
        token_id = conn.execute(
            sa.insert(api_tokens).values(
                user_name=user,
                token_hash=hash_token(token),
                prefix=token[:12],
                label=label,
                created_by=created_by,
                created_at=datetime.now(UTC),
                expires_at=expires_at,
            )
        ).inserted_primary_key[0]
        audit.append_audit(
            conn,
            audit.TOKEN_CREATED,
            created_by,
            target,
            {
                "token_id": token_id,
                "prefix": token[:12],
                "label": label,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
        row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).one()
        return _info(row)

    return token, audit.transact(engine, work)


def revoke_token(engine: sa.Engine, policy: Policy, token_id: int, actor: str) -> TokenInfo:
    """Revoke a token (by its owner or an admin); using it afterwards is refused and audited."""

    def work(conn: sa.Connection) -> TokenInfo | PermissionDenied:
        row = conn.execute(
            sa.select(api_tokens).where(api_tokens.c.id == token_id).with_for_update()
        ).first()
        if row is None:
            raise NotFound(f"token #{token_id} does not exist; `aurora tokens list` shows them")
        info = _info(row)
        try:
            policy.user(actor)
            if not _may_manage(policy, actor, info.user_name):
                raise PermissionDenied(
                    f"{actor} may not revoke token #{token_id} of {info.user_name}: only its "
                    "owner or an admin may"
                )
        except PermissionDenied as exc:
            return exc
        if not info.active:
            return info
        conn.execute(
            sa.update(api_tokens)
            .where(api_tokens.c.id == token_id)
            .values(revoked_by=actor, revoked_at=datetime.now(UTC))
        )
        audit.append_audit(
            conn,
            audit.TOKEN_REVOKED,
            actor,
            f"user/{info.user_name}",
            {"token_id": token_id, "prefix": info.prefix},
        )
        return _info(conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).one())

    outcome = audit.transact(engine, work)
    if isinstance(outcome, PermissionDenied):
        audit.append_audit(
            engine,
            audit.ACCESS_DENIED,
            actor or "<anonymous>",
            f"token/{token_id}",
            {"action": "revoke_token", "reason": str(outcome)},
        )
        raise outcome
    return outcome


def list_tokens(engine: sa.Engine, user: str | None = None) -> list[TokenInfo]:
    query = sa.select(api_tokens).order_by(api_tokens.c.id)
    if user is not None:
        query = query.where(api_tokens.c.user_name == user)
    with engine.connect() as conn:
        return [_info(r) for r in conn.execute(query)]


def token_count(engine: sa.Engine) -> int:
    """How many tokens were ever created (revoked and expired ones included)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(api_tokens)).scalar_one()


def authenticate_token(
    engine: sa.Engine,
    policy: Policy,
    token: str | None,
    target: str,
    correlation_id: str | None = None,
) -> TokenInfo:
    """The active token `token` is; Unauthenticated (audited) if it stands for nobody."""
    info: TokenInfo | None = None
    if token:
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(api_tokens).where(api_tokens.c.token_hash == hash_token(token))
            ).first()
        info = None if row is None else _info(row)
    renew = "create a new one (`aurora tokens create USER`) and `aurora login` with it"
    if not token:
        reason = "no bearer token: send `Authorization: Bearer <token>` (aurora tokens create)"
    elif info is None:
        reason = "unknown bearer token; create one with `aurora tokens create USER`"
    elif not info.active:
        reason = (
            f"token {info.prefix}… of {info.user_name} was revoked by {info.revoked_by}; {renew}"
        )
    elif info.expired():
        reason = (
            f"token {info.prefix}… of {info.user_name} expired at "
            f"{info.expires_at:%Y-%m-%d %H:%M} UTC; {renew}"
        )
    elif not policy.has_user(info.user_name):
        reason = (
            f"token {info.prefix}… belongs to {info.user_name}, who is not in the governance "
            "policy any more"
        )
    else:
        return info
    audit.append_audit(
        engine,
        audit.ACCESS_DENIED,
        info.user_name if info else "<anonymous>",
        target,
        {
            "action": "authenticate",
            "reason": reason,
            **({"token_id": info.id, "prefix": info.prefix} if info else {}),
        },
        correlation_id,
    )
    raise Unauthenticated(reason)


def authenticate(
    engine: sa.Engine,
    policy: Policy,
    token: str | None,
    target: str,
    correlation_id: str | None = None,
) -> str:
    """The user name `token` stands for; Unauthenticated (audited) if it stands for nobody."""
    return authenticate_token(engine, policy, token, target, correlation_id).user_name
