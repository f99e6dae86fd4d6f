"""Build the platform API: the governance API plus every router module under `routes/`.

A route module is mounted when it exposes `build_router(context: PlatformContext) -> APIRouter`
(paths under /api/v1, e.g. `/api/v1/experiments`). Adding an area of the API is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from aurora_pipelines.platform_api import routes
from aurora_pipelines.platform_api.auth import bearer_caller
from aurora_pipelines.platform_api.context import PlatformContext

if TYPE_CHECKING:
    from fastapi import FastAPI

    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.governance.web.evidence import RegistryFacts
    from aurora_pipelines.settings import Settings


def route_modules() -> list[str]:
    """The route modules present, in name order (stable OpenAPI document)."""
    return sorted(
        f"{routes.__name__}.{info.name}"
        for info in pkgutil.iter_modules(routes.__path__)
        if not info.name.startswith("_")
    )


def create_platform_app(
    settings: Settings,
    store: GovernanceStore,
    *,
    registry: RegistryFacts | None = None,
    session_key: bytes | None = None,
) -> FastAPI:
    """The governance API (approvals, checker page) with the platform's routers mounted."""
    from aurora_pipelines.governance.api import create_app

    app = create_app(store, registry=registry, session_key=session_key)
    app.title = "Aurora platform API"
    context = PlatformContext(settings=settings, store=store, caller=bearer_caller(store))
    for name in route_modules():
        module = importlib.import_module(name)
        build = getattr(module, "build_router", None)
        if build is not None:
            app.include_router(build(context))
    return app
