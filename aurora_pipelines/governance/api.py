"""The governance HTTP API (FastAPI): list, read and decide approval requests.

Identity comes only from a bearer token (`aurora tokens create USER`), whose sha256 is all the
database keeps; nothing in a request body or header can name another actor (bodies reject
unknown fields). Every refusal — missing, unknown or revoked token, a role not allowed,
self-approval, a decided or expired request, a digest or version mismatch — is audited as
`access_denied` by the engine underneath. The schema is at /openapi.json, docs at /docs.

Serve it with `aurora governance serve` (uvicorn). The same server carries the checker's web
page under /ui (governance/web/): token login, queue, request page, decision forms.
"""

# No `from __future__ import annotations`: FastAPI resolves the closures' Annotated dependencies
# from live annotations.
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc

from aurora_pipelines.errors import AuroraError, GovernanceError, NotFound, PermissionDenied
from aurora_pipelines.governance.approvals import ApprovalRequest
from aurora_pipelines.governance.models import STATUSES
from aurora_pipelines.governance.store import GovernanceStore
from aurora_pipelines.governance.tokens import Unauthenticated
from aurora_pipelines.governance.web.evidence import RegistryFacts
from aurora_pipelines.governance.web.routes import mount_checker_page
from aurora_pipelines.platform_api.auth import bearer_caller
from aurora_pipelines.request_logs import install_request_logging

API_PREFIX = "/api/v1"


class DecisionIn(BaseModel):
    """A checker's decision. The actor is the token's user; it cannot be given here."""

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject", "request_changes"]
    comment: str | None = Field(default=None, max_length=10_000)
    model_version: str | None = Field(
        default=None, description="The version you reviewed; refused if the request is for another."
    )
    model_digest: str | None = Field(
        default=None,
        description="The sha256 you reviewed; refused if the request binds another digest.",
    )


class DecisionOut(BaseModel):
    actor: str
    role: str
    decision: str
    comment: str | None
    decided_at: datetime
    audit_seq: int


class ApprovalOut(BaseModel):
    id: int
    experiment: str
    gate: str
    model_name: str
    model_version: str
    model_digest: str
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None
    correlation_id: str | None
    details: dict[str, Any] | None
    decisions: list[DecisionOut]
    expires_at: datetime | None
    approvers: list[str] = Field(description="Who may decide this request (not the requester).")
    quorum: list[str] = Field(description="Roles that must each approve (empty: any one).")


class WhoAmI(BaseModel):
    user: str
    roles: list[str]
    team: str


class ErrorOut(BaseModel):
    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing, unknown or revoked bearer token."},
    403: {"model": ErrorOut, "description": "The token's user may not do this."},
    404: {"model": ErrorOut, "description": "No such approval request."},
    409: {"model": ErrorOut, "description": "Refused by governance (decided, expired, digest)."},
}


def _status_for(exc: AuroraError) -> int:
    if isinstance(exc, Unauthenticated):
        return 401
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, GovernanceError):
        return 409
    return 400


# Ids are SQL BIGINTs: a larger number is a 422 naming the bound, not a driver overflow (500).
MAX_ID = 2**63 - 1
RequestId = Annotated[int, Path(ge=1, le=MAX_ID, description="Approval request id.")]


def create_app(
    store: GovernanceStore,
    *,
    registry: RegistryFacts | None = None,
    session_key: bytes | None = None,
) -> FastAPI:
    """The API over one governance store (its policy and database), with the checker's page.

    `registry`: where the page reads a version's metrics and the champion (MlflowFacts);
    `session_key`: signs the page's cookies (default AURORA_WEB_SESSION_KEY, else random).
    """
    app = FastAPI(
        title="Aurora governance API",
        version="1",
        description="Maker-checker approval requests bound to model name, version and digest. "
        "Authenticate with `Authorization: Bearer <token>` from `aurora tokens create USER`.",
    )

    @app.exception_handler(AuroraError)
    async def _aurora_error(request: Request, exc: AuroraError) -> JSONResponse:
        return JSONResponse(status_code=_status_for(exc), content={"detail": str(exc)})

    @app.exception_handler(sa_exc.OperationalError)
    async def _database_down(request: Request, exc: sa_exc.OperationalError) -> JSONResponse:
        # The database restarting or unreachable: nothing was committed (each decision is one
        # transaction), so the caller may retry; the pool re-connects on the next request.
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": "2"},
            content={
                "detail": "the governance database is unavailable; nothing was recorded, "
                "retry the request in a few seconds"
            },
        )

    install_request_logging(app, "governance_api")

    caller = bearer_caller(store)

    def render(request: ApprovalRequest) -> ApprovalOut:
        policy = store.policy
        known_gate = request.gate in policy.gates
        approvers = (
            [n for n in policy.approvers_for_gate(request.gate) if n != request.requested_by]
            if known_gate
            else []
        )
        return ApprovalOut(
            **{k: v for k, v in request.to_dict().items() if k != "decisions"},
            decisions=[DecisionOut(**d.to_dict()) for d in request.decisions],
            expires_at=store.expires_at(request) if known_gate else None,
            approvers=approvers,
            quorum=policy.quorum_for_gate(request.gate) if known_gate else [],
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(f"{API_PREFIX}/me", response_model=WhoAmI, responses=ERRORS, tags=["identity"])
    def me(user: Annotated[str, Depends(caller)]) -> WhoAmI:
        """Who the bearer token stands for."""
        identity = store.policy.user(user)
        return WhoAmI(user=identity.name, roles=list(identity.roles), team=identity.team)

    @app.get(
        f"{API_PREFIX}/approvals",
        response_model=list[ApprovalOut],
        responses=ERRORS,
        tags=["approvals"],
    )
    def list_approvals(
        user: Annotated[str, Depends(caller)],
        status: Annotated[
            Literal[STATUSES] | None,  # type: ignore[valid-type]
            Query(description="Only requests with this status."),
        ] = None,
        experiment: Annotated[str | None, Query(max_length=200)] = None,
        gate: Annotated[str | None, Query(max_length=64)] = None,
    ) -> list[ApprovalOut]:
        """Approval requests, oldest first (overdue ones are expired first)."""
        return [render(r) for r in store.list_requests(experiment, status, gate)]

    @app.get(
        f"{API_PREFIX}/approvals/{{request_id}}",
        response_model=ApprovalOut,
        responses=ERRORS,
        tags=["approvals"],
    )
    def get_approval(request_id: RequestId, user: Annotated[str, Depends(caller)]) -> ApprovalOut:
        """One approval request with its decisions, deadline and eligible approvers."""
        return render(store.get_request(request_id))

    @app.post(
        f"{API_PREFIX}/approvals/{{request_id}}/decision",
        response_model=ApprovalOut,
        responses=ERRORS,
        tags=["approvals"],
    )
    def decide(
        request_id: RequestId,
        body: DecisionIn,
        user: Annotated[str, Depends(caller)],
        x_correlation_id: Annotated[str | None, Header(max_length=200)] = None,
    ) -> ApprovalOut:
        """Approve, reject (comment required) or request changes, as the token's user."""
        decided = store.decide(
            request_id,
            body.decision,
            actor=user,
            comment=body.comment,
            current_digest=body.model_digest,
            # Without the header the decision keeps the request's own correlation id.
            correlation_id=x_correlation_id,
            expected_version=body.model_version,
        )
        return render(decided)

    mount_checker_page(app, store, registry=registry, key=session_key)
    return app
