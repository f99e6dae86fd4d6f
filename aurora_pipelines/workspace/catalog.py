"""The experiment catalog: every spec with where it stands, filtered and searched.

Status comes from the stores in one query per table for all experiments (candidates, pending
approvals, production deployments, health scores), so listing a thousand experiments costs
a thousand spec files, not a thousand round trips.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from aurora_pipelines import lifecycle
from aurora_pipelines.errors import SpecError
from aurora_pipelines.specs import ExperimentSpec, load_spec

if TYPE_CHECKING:
    from aurora_pipelines.settings import Settings
    from aurora_pipelines.workspace.store import WorkspaceStore

# Stages in lifecycle order; an experiment's `stage` is the furthest it reached.
STAGES = ("created", "ingested", "profiled", "features", "trained", "staging", "production")
STATUS_FILTERS = (*STAGES, "pending_approval", "archived", "active", "drifting")


@dataclass
class ExperimentEntry:
    name: str
    team: str
    owner: str
    problem_type: str
    description: str
    tags: list[str]
    objective: str
    source: str
    stage: str = "created"
    pending_approvals: list[str] = field(default_factory=list)
    champion_version: str | None = None
    drift_state: str = "unknown"
    health: int | None = None
    archived: bool = False
    origin: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def haystack(self) -> str:
        return " ".join([self.name, self.description, self.objective, " ".join(self.tags)]).lower()


def _entry(spec: ExperimentSpec) -> ExperimentEntry:
    answers = spec.questionnaire
    objective = ""
    if answers is not None:
        objective = f"{answers.business_objective} {answers.decision_supported}"
    origin = f"{spec.origin.kind}:{spec.origin.name}" if spec.origin else None
    return ExperimentEntry(
        name=spec.name,
        team=spec.team,
        owner=spec.owner,
        problem_type=spec.problem_type.value,
        description=spec.description,
        tags=list(spec.tags),
        objective=objective,
        source=spec.source.display,
        archived=spec.archived is not None,
        origin=origin,
    )


# Parsed specs by path, valid while the file's (mtime, size) is unchanged: a server answering
# many searches re-validates only the specs that changed.
_PARSED: dict[str, tuple[tuple[int, int], ExperimentSpec]] = {}


def load_specs_cached(directory: Path) -> list[ExperimentSpec]:
    """`specs.load_specs`, re-parsing only files whose mtime or size changed."""
    if not directory.is_dir():
        return []
    with os.scandir(directory) as found:
        files = sorted(
            (entry.name, entry.path, entry.stat())
            for entry in found
            if entry.name.endswith(".yaml") and entry.is_file()
        )
    specs = []
    for _, path, stat in files:
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _PARSED.get(path)
        if cached is None or cached[0] != stamp:
            cached = (stamp, load_spec(Path(path)))
            _PARSED[path] = cached
        specs.append(cached[1])
    return specs


def catalog(settings: Settings, workspace: WorkspaceStore) -> list[ExperimentEntry]:
    """Every experiment spec with its status, sorted by name."""
    specs = load_specs_cached(settings.experiments_dir)
    entries = [_entry(spec) for spec in specs]
    if not entries:
        return entries
    facts = _store_facts(workspace)
    # One directory listing instead of three path checks per never-ingested experiment.
    lake_dir = settings.lake_dir  # resolves the home: once, not per experiment
    in_lake = {p.name for p in lake_dir.iterdir()} if lake_dir.is_dir() else set()
    for spec, entry in zip(specs, entries, strict=True):
        lake = lake_dir / spec.name
        ingested = spec.name in in_lake
        reached = "created"
        for stage, present in (
            ("ingested", ingested and (lake / lifecycle.RAW[0]).exists()),
            ("profiled", ingested and lake.joinpath(*lifecycle.PROFILE).exists()),
            ("features", ingested and lake.joinpath(*lifecycle.FEATURES).exists()),
            ("trained", spec.name in facts["trained"]),
            ("staging", spec.name in facts["staging"]),
            ("production", spec.name in facts["production"]),
        ):
            if present:
                reached = stage
        entry.stage = reached
        entry.pending_approvals = facts["pending"].get(spec.name, [])
        entry.champion_version = facts["production"].get(spec.name)
        health = facts["health"].get(spec.name)
        if health is not None:
            entry.health = health[0]
            entry.drift_state = health[1].get("drift_state", {}).get("state", "unknown")
        elif not ingested or not lake.joinpath(*lifecycle.DRIFT).exists():
            entry.drift_state = "no report"
    return entries


def _store_facts(workspace: WorkspaceStore) -> dict[str, Any]:
    from aurora_pipelines.governance.models import (
        approval_requests,
        deployments,
        training_candidates,
    )
    from aurora_pipelines.workspace.tables import experiment_health

    engine = workspace.engine
    facts: dict[str, Any] = {"pending": {}, "staging": {}, "production": {}, "health": {}}
    with engine.connect() as conn:
        facts["trained"] = set(
            conn.execute(sa.select(training_candidates.c.experiment).distinct()).scalars()
        )
        for experiment, gate in conn.execute(
            sa.select(approval_requests.c.experiment, approval_requests.c.gate).where(
                approval_requests.c.status == "pending"
            )
        ):
            facts["pending"].setdefault(experiment, []).append(gate)
        newest = (
            sa.select(sa.func.max(deployments.c.id))
            .group_by(deployments.c.experiment, deployments.c.environment)
            .scalar_subquery()
        )
        for experiment, environment, champion in conn.execute(
            sa.select(
                deployments.c.experiment,
                deployments.c.environment,
                deployments.c.champion_version,
            ).where(deployments.c.id.in_(newest))
        ):
            if champion:
                facts.setdefault(environment, {})[experiment] = champion
        latest = (
            sa.select(sa.func.max(experiment_health.c.id))
            .group_by(experiment_health.c.experiment)
            .scalar_subquery()
        )
        for experiment, score, breakdown in conn.execute(
            sa.select(
                experiment_health.c.experiment,
                experiment_health.c.score,
                experiment_health.c.breakdown,
            ).where(experiment_health.c.id.in_(latest))
        ):
            facts["health"][experiment] = (score, json.loads(breakdown))
    return facts


def search(
    entries: list[ExperimentEntry],
    *,
    team: str | None = None,
    owner: str | None = None,
    status: str | None = None,
    problem_type: str | None = None,
    text: str | None = None,
) -> list[ExperimentEntry]:
    """Entries matching every filter; `text` matches all its words (any order) in the name,
    description, objective or tags, case-insensitively."""
    if status is not None and status not in STATUS_FILTERS:
        raise SpecError(f"unknown status '{status}' (known: {', '.join(STATUS_FILTERS)})")
    words = (text or "").lower().split()
    found = []
    for entry in entries:
        if team and entry.team != team:
            continue
        if owner and entry.owner != owner:
            continue
        if problem_type and entry.problem_type != problem_type:
            continue
        if status and not _has_status(entry, status):
            continue
        if words:
            haystack = entry.haystack()
            if not all(word in haystack for word in words):
                continue
        found.append(entry)
    return found


def _has_status(entry: ExperimentEntry, status: str) -> bool:
    if status == "pending_approval":
        return bool(entry.pending_approvals)
    if status == "archived":
        return entry.archived
    if status == "active":
        return not entry.archived
    if status == "drifting":
        return entry.drift_state in ("warn", "drifting")
    return entry.stage == status
