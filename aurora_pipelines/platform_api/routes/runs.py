"""`/api/v1/runs`: launch an experiment's job through the Dagster webserver, follow, cancel.

The run control itself is Dagster code (`defs/run_control.py`), imported when a route is
called so the API module stays free of Dagster at import.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' live annotations.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from aurora_pipelines.platform_api.context import PlatformContext


class LaunchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    experiment: str = Field(min_length=1, max_length=200, pattern=r"^[a-z][a-z0-9_]*$")
    job: str = Field(default="lifecycle", description="lifecycle, refresh_sources, retrain, ...")


def build_router(context: PlatformContext) -> APIRouter:
    router = APIRouter(prefix="/api/v1/runs", tags=["runs"])
    Caller = Annotated[str, Depends(context.caller)]

    def control() -> Any:
        from aurora_pipelines.defs.run_control import RunControl

        return RunControl(context.settings, context.store)

    @router.get("", summary="The newest runs")
    def list_runs(
        user: Caller,
        experiment: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 20,
    ) -> list[dict[str, Any]]:
        return [i.as_json() for i in control().list_runs(experiment, limit)]

    @router.post("", status_code=201, summary="Launch an experiment's job")
    def launch(user: Caller, body: LaunchIn) -> dict[str, Any]:
        return control().launch(user, body.experiment, body.job).as_json()

    @router.get("/{run_id}", summary="A run's status and logs link")
    def status(user: Caller, run_id: str) -> dict[str, Any]:
        return control().status(run_id).as_json()

    @router.post("/{run_id}/cancel", summary="Terminate a queued or running run")
    def cancel(user: Caller, run_id: str) -> dict[str, Any]:
        return control().cancel(user, run_id).as_json()

    return router
