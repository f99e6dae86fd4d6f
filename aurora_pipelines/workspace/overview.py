"""One experiment at a glance: spec, questionnaire, current version, roles, health."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aurora_pipelines.specs import find_spec
from aurora_pipelines.workspace.health import latest_health

if TYPE_CHECKING:
    from aurora_pipelines.settings import Settings
    from aurora_pipelines.workspace.store import WorkspaceStore


def overview(settings: Settings, workspace: WorkspaceStore, name: str) -> dict[str, Any]:
    spec = find_spec(settings.experiments_dir, name)
    latest = workspace.latest_version(name)
    return {
        "name": spec.name,
        "team": spec.team,
        "owner": spec.owner,
        "description": spec.description,
        "tags": list(spec.tags),
        "problem_type": spec.problem_type.value,
        "archived": spec.archived.model_dump() if spec.archived else None,
        "origin": spec.origin.model_dump() if spec.origin else None,
        "questionnaire": spec.questionnaire.model_dump(mode="json") if spec.questionnaire else None,
        "version": latest.to_dict() if latest else None,
        "roles": {"owner": spec.owner, **workspace.grants(name)},
        "health": latest_health(workspace, name),
        "spec": spec.model_dump(mode="json", exclude_defaults=True),
    }
