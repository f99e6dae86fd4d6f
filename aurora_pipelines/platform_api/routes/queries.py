"""`/api/v1/queries`: guarded, paginated, audited queries; saved queries; the caller's history.

Same engine as `aurora query` (sources/browse.py): grants, masked views, a server-side page
size, a row cap and a timeout; a page past the end is an empty page (200), a refused query a
400 that says why and what to change, a table outside the grants a 403 naming it.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' live annotations.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from aurora_pipelines.platform_api.context import PlatformContext
from aurora_pipelines.sources.browse import DataBrowser


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueryIn(_Body):
    sql: str = Field(max_length=100_000, description="One read-only SELECT.")
    page: int = Field(default=1, description="Page number, from 1.")
    limit: int = Field(default=100, description="Rows per page (server maximum applies).")


class SavedQueryIn(_Body):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")
    sql: str = Field(max_length=100_000, description="SELECT with {{ name }} markers.")
    params: dict[str, str] = Field(default_factory=dict, description="name -> type.")
    shared: bool = Field(default=False, description="Share with your team.")
    description: str = Field(default="", max_length=2000)


class SavedRunIn(_Body):
    params: dict[str, Any] = Field(default_factory=dict)
    page: int = 1
    limit: int = 100


def build_router(context: PlatformContext) -> APIRouter:
    router = APIRouter(prefix="/api/v1/queries", tags=["queries"])
    Caller = Annotated[str, Depends(context.caller)]

    def browser(user: str) -> DataBrowser:
        return DataBrowser(context.settings, context.store, user)

    @router.post("", summary="Run one page of a query")
    def run_query(user: Caller, body: QueryIn) -> dict[str, Any]:
        return browser(user).run_query(body.sql, page=body.page, limit=body.limit).as_json()

    @router.get("/saved", summary="Saved queries you may run")
    def list_saved(user: Caller) -> list[dict[str, Any]]:
        return [s.as_json() for s in browser(user).saved_queries()]

    @router.post("/saved", status_code=201, summary="Save a named, parameterised query")
    def save(user: Caller, body: SavedQueryIn) -> dict[str, Any]:
        saved = browser(user).save_query(
            body.name, body.sql, body.params, shared=body.shared, description=body.description
        )
        return saved.as_json()

    @router.post("/saved/{name}/run", summary="Run one page of a saved query")
    def run_saved(user: Caller, name: str, body: SavedRunIn) -> dict[str, Any]:
        result = browser(user).run_saved(name, body.params, page=body.page, limit=body.limit)
        return result.as_json()

    @router.get("/history", summary="Your latest queries")
    def history(
        user: Caller,
        last: Annotated[int, Query(ge=1, le=1000)] = 20,
        search: Annotated[str | None, Query(max_length=200)] = None,
        favourites: bool = False,
    ) -> list[dict[str, Any]]:
        return [h.as_json() for h in browser(user).history(last, search, favourites)]

    @router.put("/history/{entry}/favourite", summary="Star a query of your history")
    def star(user: Caller, entry: int) -> dict[str, Any]:
        browser(user).favourite(entry, True)
        return {"id": entry, "favourite": True}

    @router.delete("/history/{entry}/favourite", summary="Unstar it")
    def unstar(user: Caller, entry: int) -> dict[str, Any]:
        browser(user).favourite(entry, False)
        return {"id": entry, "favourite": False}

    return router
