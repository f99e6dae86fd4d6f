"""The platform API mounts every route module's `build_router(context)` onto the governance API."""

from __future__ import annotations

import sys
import types
from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.platform_api import app as platform_app
from aurora_pipelines.settings import DEFAULT_POLICY, Settings


def test_a_route_module_is_mounted_and_its_routes_need_a_token(tmp_path: Path, monkeypatch) -> None:
    module = types.ModuleType("aurora_pipelines.platform_api.routes.zz_probe")

    def build_router(context) -> APIRouter:
        router = APIRouter(prefix="/api/v1/probe")

        @router.get("")
        def probe(user: str = Depends(context.caller)) -> dict[str, str]:
            return {"user": user}

        return router

    module.build_router = build_router
    monkeypatch.setitem(sys.modules, module.__name__, module)
    present = platform_app.route_modules()
    monkeypatch.setattr(platform_app, "route_modules", lambda: [*present, module.__name__])
    store = GovernanceStore(f"sqlite:///{tmp_path / 'gov.db'}", load_policy(DEFAULT_POLICY))
    app = platform_app.create_platform_app(Settings(home=tmp_path), store)
    client = TestClient(app)

    assert "/api/v1/probe" in app.openapi()["paths"]
    assert "/api/v1/approvals" in app.openapi()["paths"]
    refused = client.get("/api/v1/probe")
    assert refused.status_code == 401 and refused.headers["X-Correlation-ID"]
    store.dispose()
