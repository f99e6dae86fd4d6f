"""GET /dashboards: the static pages the platform/dashboards asset regenerates.

Read-only HTML for a browser (no bearer token: a browser tab cannot send one); the pages
hold aggregates (champion, drift share, counts), never rows or decisions' comments.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from aurora_pipelines.monitoring.dashboards import OVERVIEW, dashboards_dir

if TYPE_CHECKING:
    from aurora_pipelines.platform_api.context import PlatformContext

PAGE = re.compile(r"^[a-z][a-z0-9_]*$")  # an experiment name: no path tricks


def build_router(context: PlatformContext) -> APIRouter:
    router = APIRouter(prefix="/dashboards", tags=["dashboards"])
    directory = dashboards_dir(context.settings)

    def _serve(name: str):
        path = directory / name
        if not path.is_file():
            if name == OVERVIEW:
                return HTMLResponse(
                    "<!doctype html><p class='empty'>No dashboards yet: materialize "
                    "<code>platform/dashboards</code> (job refresh_dashboards) first.</p>"
                )
            raise HTTPException(
                404, f"no dashboard for experiment '{name[:-5]}'; materialize platform/dashboards"
            )
        return FileResponse(path, media_type="text/html")

    @router.get("", include_in_schema=False)
    def to_overview() -> RedirectResponse:
        # The pages link to each other relatively: they must be read under /dashboards/.
        return RedirectResponse(f"{router.prefix}/")

    @router.get("/", response_class=HTMLResponse, summary="Overview of every experiment")
    @router.get("/index.html", response_class=HTMLResponse, include_in_schema=False)
    def overview():
        return _serve(OVERVIEW)

    @router.get("/{experiment}.html", response_class=HTMLResponse, summary="One experiment")
    def experiment(experiment: str):
        if not PAGE.match(experiment):
            raise HTTPException(404, f"no dashboard for {experiment!r}")
        return _serve(f"{experiment}.html")

    return router
