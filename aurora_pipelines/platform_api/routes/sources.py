"""`/api/v1/sources`: the catalog tables the caller's team may read, and one table's details.

A table outside the caller's grants is absent from the list; asking for it is a 403 naming
the table (audited as `access_denied`).
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' live annotations.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from aurora_pipelines.platform_api.context import PlatformContext
from aurora_pipelines.sources.browse import DataBrowser


def build_router(context: PlatformContext) -> APIRouter:
    router = APIRouter(prefix="/api/v1/sources", tags=["sources"])
    Caller = Annotated[str, Depends(context.caller)]

    @router.get("", summary="Tables your team may read")
    def list_sources(
        user: Caller, database: Annotated[str | None, Query(max_length=200)] = None
    ) -> list[dict[str, Any]]:
        found = DataBrowser(context.settings, context.store, user).list_sources(database)
        return [s.__dict__ for s in found]

    @router.get("/{name}", summary="Columns, types, row count and PII rules of one table")
    def show_source(user: Caller, name: str) -> dict[str, Any]:
        detail = DataBrowser(context.settings, context.store, user).show_source(name)
        return {**detail.__dict__, "columns": [c.__dict__ for c in detail.columns]}

    return router
