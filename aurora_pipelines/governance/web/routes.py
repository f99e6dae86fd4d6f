"""The checker's web page on the governance API: login, queue, request page, decisions.

Plain server-rendered HTML (Jinja2), no JavaScript: a validator pastes a personal token once
(`aurora tokens create USER`), sees the pending requests they may decide, opens one (model card,
UAT report, metrics, the difference to the champion) and approves, rejects or requests changes.
The approval engine (governance/approvals.py) decides who may decide what; the page shows a
decision form only to those it would accept, and refuses, with 403 and an `access_denied` audit
row, any post that lacks the session's CSRF token, carries a forged, foreign or spent form
token, or names another digest or version than the one the checker was shown.
"""

# No `from __future__ import annotations`: FastAPI resolves the closures' Annotated dependencies
# from live annotations.

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Cookie, Depends, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from aurora_pipelines.errors import AuroraError, NotFound, PermissionDenied
from aurora_pipelines.governance import audit
from aurora_pipelines.governance.approvals import ApprovalRequest, decision_refusal
from aurora_pipelines.governance.models import PENDING
from aurora_pipelines.governance.report import build_report, request_tier
from aurora_pipelines.governance.store import GovernanceStore
from aurora_pipelines.governance.tokens import Unauthenticated
from aurora_pipelines.governance.web.evidence import (
    NoRegistry,
    RegistryFacts,
    champion_diff,
)
from aurora_pipelines.governance.web.sessions import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_HOURS,
    SessionBook,
    WebSession,
    create_web_tables,
    session_key,
)
from aurora_pipelines.governance.web.templating import UI_PREFIX, render_html

MAX_FORM_BYTES = 64 * 1024
DECISION_LABELS = {
    "approve": "Approve",
    "reject": "Reject",
    "request_changes": "Request changes",
}
# The evidence files a request's details may point at, and the names they must have.
EVIDENCE_FILES = {"model_card": "model_card.html", "uat_report": "uat_report.html"}
# Pages: no scripts at all, frames only from this server, forms only to this server.
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Evidence documents are written by the pipeline; shown sandboxed (no scripts, no forms).
EVIDENCE_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


# Ids are SQL BIGINTs: a larger number is refused (422), not a driver overflow (500).
RequestId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]


def _short(digest: str) -> str:
    return digest[:12] + "…"


def render_page(
    template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """One page with the security headers every page of the site carries."""
    response = HTMLResponse(render_html(template, **context), status_code=status, headers=headers)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@dataclass(frozen=True)
class QueueRow:
    request: ApprovalRequest
    tier: str | None


async def form_fields(request: Request) -> dict[str, str]:
    """An urlencoded form body as {field: first value} (no multipart: the page posts none)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def mount_checker_page(
    app: FastAPI,
    store: GovernanceStore,
    *,
    registry: RegistryFacts | None = None,
    key: bytes | None = None,
    secure_cookies: bool = False,
) -> SessionBook:
    """Add the page under /ui to `app`; returns its session book (tests and benchmarks)."""
    create_web_tables(store.engine)
    book = SessionBook(store.engine, store.policy, key or session_key())
    facts = registry or NoRegistry()
    router = APIRouter(prefix=UI_PREFIX, include_in_schema=False)
    policy = store.policy

    def correlation(request: Request) -> str:
        return request.headers.get("x-correlation-id", "")[:200] or uuid.uuid4().hex

    def deny(
        reason: str,
        correlation_id: str,
        session: WebSession | None,
        target: str,
        action: str = "web_decision",
    ) -> HTMLResponse:
        """A 403 page for a refused post, audited as access_denied (channel web)."""
        store.audit(
            audit.ACCESS_DENIED,
            session.user if session else "<anonymous>",
            target,
            {"action": action, "reason": reason, "channel": "web"},
            correlation_id,
        )
        return render_page(
            "message.html",
            status=403,
            user=session.user if session else None,
            csrf=book.signer.csrf_token(session.sid) if session else None,
            title="Refused",
            message=reason,
            back=f"{UI_PREFIX}/queue" if session else f"{UI_PREFIX}/login",
        )

    def current(
        aurora_session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
    ) -> WebSession | None:
        return book.resolve(aurora_session)

    def chrome(session: WebSession) -> dict[str, Any]:
        identity = policy.user(session.user)
        return {
            "user": session.user,
            "roles": identity.roles,
            "csrf": book.signer.csrf_token(session.sid),
        }

    def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
        # Strict: a browser sends neither cookie with a request started by another site.
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=UI_PREFIX,
            httponly=True,
            samesite="strict",
            secure=secure_cookies,
        )

    def login_redirect() -> RedirectResponse:
        return RedirectResponse(f"{UI_PREFIX}/login", status_code=303)

    @router.get("/", response_class=HTMLResponse)
    def home(session: Annotated[WebSession | None, Depends(current)]) -> Response:
        return RedirectResponse(f"{UI_PREFIX}/queue" if session else f"{UI_PREFIX}/login", 303)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(session: Annotated[WebSession | None, Depends(current)]) -> Response:
        if session is not None:
            return RedirectResponse(f"{UI_PREFIX}/queue", status_code=303)
        nonce = uuid.uuid4().hex
        response = render_page("login.html", login_nonce=nonce, error=None)
        # Double-submit: a login form posted from another site lacks the matching cookie.
        set_cookie(response, LOGIN_COOKIE, nonce, 600)
        return response

    @router.post("/login", response_class=HTMLResponse)
    def login(
        request: Request,
        fields: Annotated[dict[str, str], Depends(form_fields)],
        aurora_login: Annotated[str | None, Cookie(alias=LOGIN_COOKIE)] = None,
    ) -> Response:
        corr = correlation(request)
        nonce = fields.get("login_nonce", "")
        if not aurora_login or not nonce or nonce != aurora_login:
            reason = "login form not issued by this server (cross-site or stale); sign in again"
            return deny(reason, corr, None, "web/login", "web_login")
        token = fields.get("token", "").strip()
        try:
            user = store.authenticate(token, "web:POST /ui/login", corr)
        except Unauthenticated as exc:  # audited by the token store
            return render_page("login.html", status=401, login_nonce=nonce, error=str(exc))
        session, cookie = book.start(token)
        store.audit(
            "web_login", user, f"user/{user}", {"session_id": session.id, "channel": "web"}, corr
        )
        response = RedirectResponse(f"{UI_PREFIX}/queue", status_code=303)
        set_cookie(response, SESSION_COOKIE, cookie, SESSION_HOURS * 3600)
        response.delete_cookie(LOGIN_COOKIE, path=UI_PREFIX)
        return response

    @router.post("/logout", response_class=HTMLResponse)
    def logout(
        request: Request,
        session: Annotated[WebSession | None, Depends(current)],
        fields: Annotated[dict[str, str], Depends(form_fields)],
    ) -> Response:
        if session is None:
            return login_redirect()
        if not book.csrf_ok(session, fields.get("csrf")):
            reason = "logout form without this session's CSRF token"
            return deny(reason, correlation(request), session, "web/logout", "web_logout")
        book.end(session)
        store.audit(
            "web_logout",
            session.user,
            f"user/{session.user}",
            {"session_id": session.id, "channel": "web"},
            correlation(request),
        )
        response = login_redirect()
        response.delete_cookie(SESSION_COOKIE, path=UI_PREFIX)
        return response

    @router.get("/queue", response_class=HTMLResponse)
    def queue(session: Annotated[WebSession | None, Depends(current)]) -> Response:
        if session is None:
            return login_redirect()
        pending = store.list_requests(status=PENDING)
        mine = [QueueRow(r, request_tier(r)) for r in pending if r.requested_by == session.user]
        to_decide = [
            QueueRow(r, request_tier(r))
            for r in pending
            if r.requested_by != session.user
            and r.gate in policy.gates
            and decision_refusal(policy, r, session.user) is None
        ]
        return render_page(
            "queue.html",
            **chrome(session),
            to_decide=to_decide,
            mine=mine,
            pending_total=len(pending),
            expires_at=store.expires_at,
        )

    def evidence_of(request: ApprovalRequest) -> dict[str, Any]:
        details = request.details or {}
        candidate = facts.version_facts(request.model_name, request.model_version)
        champion_version, source = None, ""
        production = store.list_deployments(request.model_name, "production", limit=1)
        if production and production[0].champion_version:
            champion_version, source = production[0].champion_version, "production deployment"
        else:
            champion_version = facts.alias_version(request.model_name, "champion")
            source = "registry alias `champion`" if champion_version else ""
        champion = (
            facts.version_facts(request.model_name, champion_version)
            if champion_version and champion_version != request.model_version
            else None
        )
        shown = {"model_card", "model_card_markdown", "uat_report", "uat_report_markdown"}
        return {
            "candidate": candidate,
            "diff": champion_diff(candidate, champion_version, source, champion),
            "documents": {k: bool(details.get(k)) for k in EVIDENCE_FILES},
            "uat_metrics": details.get("uat_metrics") or {},
            "uat_vs_training": details.get("uat_vs_training") or [],
            "uat_rows": details.get("uat_rows"),
            "uat_selection": details.get("uat_selection"),
            "other_details": {
                k: v for k, v in details.items() if k not in shown and not k.startswith("uat_")
            },
        }

    @router.get("/requests/{request_id}", response_class=HTMLResponse)
    def request_page(
        request_id: RequestId,
        session: Annotated[WebSession | None, Depends(current)],
        decided: str | None = None,
    ) -> Response:
        if session is None:
            return login_redirect()
        try:
            approval = store.get_request(request_id)
        except NotFound as exc:
            return render_page(
                "message.html",
                status=404,
                **chrome(session),
                title="Not found",
                message=str(exc),
                back=f"{UI_PREFIX}/queue",
            )
        # A gate the current policy no longer defines can be read but never decided.
        known, r_by = approval.gate in policy.gates, approval.requested_by
        refusal = (
            decision_refusal(policy, approval, session.user)
            if known
            else f"the {approval.gate} gate is not in the governance policy any more"
        )
        form_token = (
            book.form_token(session, approval.id, approval.model_version, approval.model_digest)
            if refusal is None
            else None
        )
        return render_page(
            "request.html",
            **chrome(session),
            r=approval,
            tier=request_tier(approval),
            expires=store.expires_at(approval),
            approvers=[n for n in policy.approvers_for_gate(approval.gate) if n != r_by]
            if known
            else [],
            quorum=policy.quorum_for_gate(approval.gate) if known else [],
            refusal=refusal,
            form_token=form_token,
            decisions=DECISION_LABELS,
            decided=decided if decided in DECISION_LABELS else None,
            **evidence_of(approval),
        )

    @router.get("/requests/{request_id}/evidence/{kind}")
    def evidence_file(
        request_id: RequestId, kind: str, session: Annotated[WebSession | None, Depends(current)]
    ) -> Response:
        if session is None:
            return login_redirect()
        try:
            approval = store.get_request(request_id)
        except NotFound:
            approval = None
        value = (approval.details or {}).get(kind) if approval and kind in EVIDENCE_FILES else None
        path = Path(value) if value else None
        if path is None or path.name != EVIDENCE_FILES[kind] or not path.is_file():
            return render_page(
                "message.html",
                status=404,
                **chrome(session),
                title="No such document",
                message=f"request #{request_id} carries no {kind.replace('_', ' ')} file",
                back=f"{UI_PREFIX}/requests/{request_id}",
            )
        return FileResponse(
            path,
            media_type="text/html",
            headers={
                "Content-Security-Policy": EVIDENCE_CSP + "; frame-ancestors 'self'",
                "X-Frame-Options": "SAMEORIGIN",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )

    @router.post("/requests/{request_id}/decision", response_class=HTMLResponse)
    def decide(
        request_id: RequestId,
        request: Request,
        session: Annotated[WebSession | None, Depends(current)],
        fields: Annotated[dict[str, str], Depends(form_fields)],
    ) -> Response:
        corr = correlation(request)
        target = f"approval_request/{request_id}"
        decision = fields.get("decision", "")
        if session is None:
            reason = (
                "decision posted without a valid session (not signed in, logged out, expired "
                "or its token revoked); sign in at /ui/login"
            )
            return deny(reason, corr, None, target)
        if not book.csrf_ok(session, fields.get("csrf")):
            reason = (
                "forged decision post: it lacks this session's CSRF token; decide from the "
                "request page"
            )
            return deny(reason, corr, session, target)
        try:
            grant = book.form_grant(session, request_id, fields.get("form_token"))
        except ValueError as exc:
            return deny(f"forged decision post: {exc}", corr, session, target)
        if not book.spend(session, grant):
            reason = (
                "replayed decision post: this form was already used once; reload the request "
                "page to decide again"
            )
            return deny(reason, corr, session, target)
        posted_digest = fields.get("model_digest", "").strip().lower()
        posted_version = fields.get("model_version", "").strip()
        if (posted_digest, posted_version) != (grant.model_digest, grant.model_version):
            reason = (
                f"the decision names version {posted_version or '?'} digest "
                f"{_short(posted_digest or '?')}, but the checker was shown version "
                f"{grant.model_version} digest {_short(grant.model_digest)}; decide what you "
                "reviewed, from the request page"
            )
            return deny(reason, corr, session, target)
        if decision not in DECISION_LABELS:
            reason = f"unknown decision '{decision}'; use one of: {', '.join(DECISION_LABELS)}"
            return deny(reason, corr, session, target)
        try:
            store.decide(
                request_id,
                decision,  # type: ignore[arg-type]
                actor=session.user,
                comment=fields.get("comment") or None,
                current_digest=grant.model_digest,
                expected_version=grant.model_version,
                correlation_id=request.headers.get("x-correlation-id") or None,
            )
        except AuroraError as exc:  # audited as access_denied by the engine
            return render_page(
                "message.html",
                status=403 if isinstance(exc, PermissionDenied) else 409,
                **chrome(session),
                title="Refused",
                message=str(exc),
                back=f"{UI_PREFIX}/requests/{request_id}",
            )
        return RedirectResponse(
            f"{UI_PREFIX}/requests/{request_id}?decided={decision}", status_code=303
        )

    @router.get("/report", response_class=HTMLResponse)
    def report_page(session: Annotated[WebSession | None, Depends(current)]) -> Response:
        if session is None:
            return login_redirect()
        return render_page("report.html", **chrome(session), report=build_report(store))

    app.include_router(router)
    return book
