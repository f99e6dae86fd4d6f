"""Bearer-token identity and correlation ids for every platform route.

Identity comes only from the token (its sha256 is all the database keeps); nothing in a request
body or header can name another actor. A refusal is audited by the governance store.
"""

# No `from __future__ import annotations`: FastAPI resolves the closures' Annotated dependencies
# from live annotations.
import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aurora_pipelines.governance.store import GovernanceStore
from aurora_pipelines.governance.tokens import Unauthenticated

CORRELATION_HEADER = "X-Correlation-ID"

bearer = HTTPBearer(auto_error=False, description="Token from `aurora tokens create USER`.")


def correlation_id(
    x_correlation_id: Annotated[str | None, Header(max_length=200)] = None,
) -> str:
    """The caller's correlation id, or a new one; echoed in the response header."""
    return x_correlation_id or uuid.uuid4().hex


def bearer_caller(store: GovernanceStore) -> Callable[..., str]:
    """A FastAPI dependency resolving the bearer token to a user name (401 otherwise)."""

    def caller(
        request: Request,
        response: Response,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        correlation: Annotated[str, Depends(correlation_id)],
    ) -> str:
        response.headers[CORRELATION_HEADER] = correlation
        token = credentials.credentials if credentials else None
        try:
            return store.authenticate(
                token, f"api:{request.method} {request.url.path}", correlation
            )
        except Unauthenticated as exc:
            raise HTTPException(
                401,
                str(exc),
                headers={"WWW-Authenticate": "Bearer", CORRELATION_HEADER: correlation},
            ) from None

    return caller
