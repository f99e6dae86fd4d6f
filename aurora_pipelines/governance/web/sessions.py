"""Browser sessions of the checker's page: signed cookies, CSRF tokens and one-time form tokens.

A session starts when someone pastes a personal token (the token store of governance/tokens.py
authenticates it) and lives in `web_sessions`: the cookie carries a random session id signed
with the server's key, the database keeps only its sha256 and the token it came from, so
logging out, revoking the token or removing the user from the policy ends it at once.

Every state-changing form carries two things:
- the session's CSRF token (an HMAC of the session id): a page on another site cannot read it,
  so it cannot forge a post even if a browser sends the cookie along;
- a one-time form token, signed and bound to the session, the approval request, the model
  version and the digest the checker was shown. Its nonce is spent in `web_form_uses` on first
  use, so a captured post replayed later is refused before it reaches the approval engine.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from aurora_pipelines.governance.models import api_tokens
from aurora_pipelines.governance.policy import Policy
from aurora_pipelines.governance.tokens import hash_token

SESSION_COOKIE = "aurora_session"
LOGIN_COOKIE = "aurora_login"
SESSION_KEY_ENV = "AURORA_WEB_SESSION_KEY"
SESSION_HOURS = 8
FORM_TTL_S = 3600

# Own metadata: the page's tables are created when the page is mounted, whatever created the
# governance tables before (governance/models.py stays the engine's schema).
web_metadata = sa.MetaData()

web_sessions = sa.Table(
    "web_sessions",
    web_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("sid_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_name", sa.String(100), nullable=False),
    sa.Column("token_id", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
)

# Spent form nonces. The primary key is what makes a replay fail even for two racing posts.
web_form_uses = sa.Table(
    "web_form_uses",
    web_metadata,
    sa.Column("nonce", sa.String(64), primary_key=True),
    sa.Column("session_id", sa.Integer, nullable=False),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
)


def create_web_tables(engine: sa.Engine) -> None:
    """Create the session tables if missing (safe when several servers start at once)."""
    try:
        web_metadata.create_all(engine)
    except (sa_exc.IntegrityError, sa_exc.ProgrammingError, sa_exc.OperationalError):
        web_metadata.create_all(engine)


def session_key() -> bytes:
    """AURORA_WEB_SESSION_KEY if set (all servers of a deployment share it), else a random key
    for this process: sessions then end when the server restarts."""
    configured = os.environ.get(SESSION_KEY_ENV)
    return configured.encode("utf-8") if configured else secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC-SHA256 signatures over small JSON payloads, one purpose per signature."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}|{body}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def unsign(self, purpose: str, value: str | None) -> dict[str, Any] | None:
        """The payload, or None if `value` is not a signature of ours for `purpose`."""
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None

    def csrf_token(self, sid: str) -> str:
        return self._mac("csrf", sid)


@dataclass(frozen=True)
class WebSession:
    id: int
    sid: str
    user: str
    token_id: int
    expires_at: datetime


@dataclass(frozen=True)
class FormGrant:
    """What a decision form was issued for: request, version and digest the checker saw."""

    request_id: int
    model_version: str
    model_digest: str
    nonce: str


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class SessionBook:
    """Sessions and form tokens over one governance database."""

    def __init__(self, engine: sa.Engine, policy: Policy, key: bytes) -> None:
        self.engine = engine
        self.policy = policy
        self.signer = Signer(key)

    def start(self, token: str) -> tuple[WebSession, str]:
        """A session for an already authenticated token: (session, cookie value)."""
        now = datetime.now(UTC)
        sid = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            token_row = conn.execute(
                sa.select(api_tokens.c.id, api_tokens.c.user_name).where(
                    api_tokens.c.token_hash == hash_token(token)
                )
            ).one()
            expires = now + timedelta(hours=SESSION_HOURS)
            session_id = conn.execute(
                sa.insert(web_sessions).values(
                    sid_hash=_sha(sid),
                    user_name=token_row.user_name,
                    token_id=token_row.id,
                    created_at=now,
                    expires_at=expires,
                )
            ).inserted_primary_key[0]
        session = WebSession(session_id, sid, token_row.user_name, token_row.id, expires)
        cookie = self.signer.sign("session", {"sid": sid, "exp": int(expires.timestamp())})
        return session, cookie

    def resolve(self, cookie: str | None) -> WebSession | None:
        """The live session of a cookie; None if it is forged, expired, logged out, its token
        was revoked or its user left the policy."""
        payload = self.signer.unsign("session", cookie)
        if payload is None or not isinstance(payload.get("sid"), str):
            return None
        if int(payload.get("exp", 0)) <= time.time():
            return None
        s, t = web_sessions.c, api_tokens.c
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(s.id, s.user_name, s.token_id, s.expires_at)
                .select_from(web_sessions.join(api_tokens, t.id == s.token_id))
                .where(
                    s.sid_hash == _sha(payload["sid"]),
                    s.ended_at.is_(None),
                    t.revoked_at.is_(None),
                )
            ).first()
        if row is None or _utc(row.expires_at) <= datetime.now(UTC):
            return None
        if not self.policy.has_user(row.user_name):
            return None
        return WebSession(row.id, payload["sid"], row.user_name, row.token_id, row.expires_at)

    def end(self, session: WebSession) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(web_sessions)
                .where(web_sessions.c.id == session.id, web_sessions.c.ended_at.is_(None))
                .values(ended_at=datetime.now(UTC))
            )

    def csrf_ok(self, session: WebSession, posted: str | None) -> bool:
        return bool(posted) and hmac.compare_digest(
            str(posted), self.signer.csrf_token(session.sid)
        )

    def form_token(self, session: WebSession, request_id: int, version: str, digest: str) -> str:
        """A one-time token for a decision form on `request_id` as shown now."""
        return self.signer.sign(
            "decision",
            {
                "s": _sha(session.sid)[:32],
                "r": request_id,
                "v": version,
                "d": digest,
                "n": secrets.token_hex(16),
                "iat": int(time.time()),
            },
        )

    def form_grant(self, session: WebSession, request_id: int, token: str | None) -> FormGrant:
        """The grant a posted form token carries; ValueError naming why it is not one."""
        payload = self.signer.unsign("decision", token)
        if payload is None:
            raise ValueError("the form token is missing or not signed by this server")
        if payload.get("s") != _sha(session.sid)[:32]:
            raise ValueError("the form token was issued to another session")
        if payload.get("r") != request_id:
            raise ValueError(f"the form token was issued for request #{payload.get('r')}")
        if int(payload.get("iat", 0)) + FORM_TTL_S <= time.time():
            raise ValueError("the form token is older than an hour; reload the request page")
        return FormGrant(request_id, str(payload["v"]), str(payload["d"]), str(payload["n"]))

    def spend(self, session: WebSession, grant: FormGrant) -> bool:
        """Use the form's nonce up; False if it was used before (a replayed post)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    sa.insert(web_form_uses).values(
                        nonce=grant.nonce,
                        session_id=session.id,
                        request_id=grant.request_id,
                        used_at=datetime.now(UTC),
                    )
                )
        except sa_exc.IntegrityError:
            return False
        return True
