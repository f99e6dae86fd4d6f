"""`GET /api/v1/models/{name}/versions/{version}/archive`: a model version as one zip.

The caller comes from the bearer token only; members of the experiment's team (and admins)
get the archive (registry/archive.py), anyone else a 403 that is audited as `access_denied`.
"""

# No `from __future__ import annotations`: FastAPI resolves Annotated dependencies live.
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from aurora_pipelines.errors import NotFound, SpecError
from aurora_pipelines.platform_api.auth import correlation_id
from aurora_pipelines.platform_api.context import PlatformContext
from aurora_pipelines.registry.archive import ArchiveDenied


def build_router(context: PlatformContext) -> APIRouter:
    router = APIRouter(prefix="/api/v1/models", tags=["models"])

    @router.get("/{name}/versions/{version}/archive", response_class=FileResponse)
    def archive(
        name: str,
        version: str,
        caller: Annotated[str, Depends(context.caller)],
        correlation: Annotated[str, Depends(correlation_id)],
    ) -> FileResponse:
        """The zip of model `name` version `version` (model, card, UAT, profile, leaderboard,
        manifest with every file's sha256)."""
        from aurora_pipelines.registry.archive import build_archive
        from aurora_pipelines.specs import find_spec

        try:
            spec = find_spec(context.settings.experiments_dir, name)
        except SpecError as exc:
            raise HTTPException(404, str(exc)) from None
        folder = Path(tempfile.mkdtemp(prefix="aurora-download-"))
        out = folder / f"{spec.name}-v{version}.zip"
        try:
            build_archive(
                context.settings,
                context.store,
                spec,
                caller=caller,
                version=version,
                out=out,
                correlation_id=correlation,
            )
        except ArchiveDenied as exc:
            raise HTTPException(403, str(exc)) from None
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from None

        def cleanup() -> None:
            out.unlink(missing_ok=True)
            folder.rmdir()

        return FileResponse(
            out,
            media_type="application/zip",
            filename=out.name,
            background=BackgroundTask(cleanup),
        )

    return router
