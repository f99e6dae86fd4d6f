"""/api/v1/experiments: create from the questionnaire, list/search, show, edit, clone, history
and health — the workspace engine (aurora_pipelines/workspace) over HTTP, as the token's user.
"""

# No `from __future__ import annotations`: FastAPI reads the live annotations.
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from aurora_pipelines.errors import NotFound
from aurora_pipelines.platform_api.context import PlatformContext


class CreateExperiment(BaseModel):
    name: str
    source: str = Field(description="CSV/Parquet file, Delta dir, or database.table.")
    target: str | None = Field(default=None, description="Target (default: the template's).")
    team: str | None = None
    problem_type: str | None = None
    id_column: str | None = None
    time_column: str | None = None
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    template: str | None = Field(default=None, description="credit_scoring|churn|segmentation")
    answers: dict[str, Any] | None = Field(default=None, description="The questionnaire.")


class CloneExperiment(BaseModel):
    new_name: str
    source: str | None = None


class EditExperiment(BaseModel):
    changes: dict[str, Any] = Field(description='Dotted fields, e.g. {"training.cv_folds": 3}.')
    note: str = ""


def build_router(context: PlatformContext) -> APIRouter:
    from aurora_pipelines.workspace.store import WorkspaceStore

    router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])
    settings = context.settings
    workspace = WorkspaceStore(context.store)
    Caller = Annotated[str, Depends(context.caller)]

    def existing(name: str) -> Any:
        from aurora_pipelines.specs import find_spec

        if not (settings.experiments_dir / f"{name}.yaml").exists():
            raise NotFound(f"no experiment named '{name}'")
        return find_spec(settings.experiments_dir, name)

    @router.get("")
    def list_experiments(
        user: Caller,
        team: str | None = None,
        owner: str | None = None,
        status: str | None = None,
        problem_type: str | None = None,
        search: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Experiments matching the filters, with status and health; paginated."""
        from aurora_pipelines.workspace.catalog import catalog
        from aurora_pipelines.workspace.catalog import search as find

        found = find(
            catalog(settings, workspace),
            team=team,
            owner=owner,
            status=status,
            problem_type=problem_type,
            text=search,
        )
        page = found[offset : offset + limit]
        return {"total": len(found), "items": [e.to_dict() for e in page]}

    @router.post("", status_code=201)
    def create(body: CreateExperiment, user: Caller) -> dict[str, Any]:
        """Create an experiment from the questionnaire (and optionally a template)."""
        from aurora_pipelines.experiments import create_experiment
        from aurora_pipelines.workspace.manage import template_data

        if (settings.experiments_dir / f"{body.name}.yaml").exists():
            raise HTTPException(409, f"experiment '{body.name}' already exists; pick another name")
        base = template_data(body.template) if body.template else {}
        answers = body.answers
        if base.get("questionnaire"):
            answers = {**base.pop("questionnaire"), **(answers or {})}
        if base:
            base["origin"] = {"kind": "template", "name": body.template}
        target = body.target or base.pop("target", None)
        base.pop("target", None)
        if not target:
            raise HTTPException(400, "no target: give `target`")
        kind = body.problem_type or base.pop("problem_type", "classification")
        base.pop("problem_type", None)
        created = create_experiment(
            settings.model_copy(update={"user": user}),
            name=body.name,
            source=body.source,
            target=target,
            team=body.team,
            problem_type=kind,
            id_column=body.id_column,
            time_column=body.time_column,
            answers=answers,
            description=body.description or base.pop("description", ""),
            tags=[*body.tags, *base.pop("tags", [])],
            base=base,
        )
        return {
            "name": created.spec.name,
            "version": created.version,
            "spec_path": str(created.spec_path),
            "dbt_project": str(created.dbt_project_dir),
            "dbt_files": [str(p) for p in created.dbt_files],
        }

    @router.get("/{name}")
    def show(name: str, user: Caller) -> dict[str, Any]:
        from aurora_pipelines.workspace.overview import overview
        from aurora_pipelines.workspace.roles import READ

        workspace.require(existing(name), user, READ)
        return {
            **overview(settings, workspace, name),
            "your_role": workspace.role(existing(name), user),
        }

    @router.patch("/{name}")
    def edit(name: str, body: EditExperiment, user: Caller) -> dict[str, Any]:
        """Change spec fields (owners and editors); a change is a new version."""
        from aurora_pipelines.workspace.manage import update_spec

        existing(name)
        _, version, changed = update_spec(settings, workspace, name, body.changes, user, body.note)
        return {"version": version.version, "changed": changed, "hash": version.content_hash}

    @router.post("/{name}/clone", status_code=201)
    def clone(name: str, body: CloneExperiment, user: Caller) -> dict[str, Any]:
        from aurora_pipelines.experiments import create_experiment
        from aurora_pipelines.sources.readers import infer_source
        from aurora_pipelines.specs import ExperimentSpec
        from aurora_pipelines.workspace.manage import clone_data

        existing(name)
        if (settings.experiments_dir / f"{body.new_name}.yaml").exists():
            raise HTTPException(
                409, f"experiment '{body.new_name}' already exists; clone onto a new name"
            )
        policy = context.store.policy
        team = policy.user(user).team
        source = infer_source(body.source).model_dump(mode="json") if body.source else None
        data = clone_data(settings, workspace, name, body.new_name, user, team, source)
        spec = ExperimentSpec.model_validate(data)
        created = create_experiment(
            settings.model_copy(update={"user": user}),
            name=body.new_name,
            source=spec.source,
            target=spec.target,
            team=team,
            problem_type=spec.problem_type.value,
            id_column=spec.id_column,
            time_column=spec.time_column,
            base=data,
        )
        return {"name": body.new_name, "version": created.version, "origin": data["origin"]}

    @router.get("/{name}/history")
    def history(name: str, user: Caller) -> list[dict[str, Any]]:
        from aurora_pipelines.workspace.roles import READ

        workspace.require(existing(name), user, READ)
        return [v.to_dict() for v in workspace.history(name)]

    @router.get("/{name}/health")
    def health(name: str, user: Caller, refresh: bool = False) -> dict[str, Any]:
        """The latest recorded health score; `refresh=true` computes (and records) it now."""
        from aurora_pipelines.workspace.health import latest_health, refresh_health
        from aurora_pipelines.workspace.roles import READ

        workspace.require(existing(name), user, READ)
        if refresh:
            return refresh_health(settings, workspace, name).to_dict()
        latest = latest_health(workspace, name)
        if latest is None:
            raise NotFound(f"no health score recorded for '{name}' yet; ask with ?refresh=true")
        return latest

    return router
