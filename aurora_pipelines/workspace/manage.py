"""Changing experiments: save a spec as a new version, edit, clone, templates, archive.

Every change is checked (pydantic, roles) before anything is written; the spec file is
replaced atomically, then its version recorded (with its audit row).
"""

from __future__ import annotations

import copy
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from aurora_pipelines.errors import SpecError
from aurora_pipelines.specs import ExperimentSpec, ProblemType, find_spec
from aurora_pipelines.workspace.roles import ARCHIVE, EDIT, READ

if TYPE_CHECKING:
    from aurora_pipelines.settings import Settings
    from aurora_pipelines.workspace.store import WorkspaceStore
    from aurora_pipelines.workspace.versions import SpecVersion

EXPERIMENT_ARCHIVED = "experiment_archived"
# Serving aliases an archived experiment's model loses.
SERVING_ALIASES = ("champion", "challenger", "staging")

TEMPLATES: dict[str, dict[str, Any]] = {
    "credit_scoring": {
        "description": "Probability of default of a credit application.",
        "tags": ["credit", "risk", "template:credit_scoring"],
        "target": "default_flag",
        "problem_type": "classification",
        "questionnaire": {
            "business_objective": "Reduce credit losses without refusing good customers.",
            "decision_supported": "Approve, refer or decline a credit application.",
            "positive_class_meaning": "The applicant defaults within the horizon.",
            "cost_fn_vs_fp": 5,
            "success_metric": "average_precision",
            "time_horizon_days": 365,
            "output_consumers": "Credit officers and the decision engine.",
            "decision_automation": "human_review",
            "materiality": "high",
            "personal_data": True,
            "regulatory_use": ["credit_decision"],
        },
    },
    "churn": {
        "description": "Which customers are about to leave.",
        "tags": ["churn", "retention", "template:churn"],
        "target": "churned",
        "problem_type": "classification",
        "questionnaire": {
            "business_objective": "Keep customers who are about to leave.",
            "decision_supported": "Who gets a retention offer this month.",
            "positive_class_meaning": "The customer cancels within the horizon.",
            "cost_fn_vs_fp": 3,
            "success_metric": "roc_auc",
            "success_threshold": 0.75,
            "time_horizon_days": 90,
            "output_consumers": "The retention marketing team.",
            "decision_automation": "advisory",
            "materiality": "medium",
            "personal_data": True,
            "regulatory_use": [],
        },
    },
    "segmentation": {
        "description": "Customer segments for marketing and product design.",
        "tags": ["segmentation", "template:segmentation"],
        "problem_type": "clustering",
        "questionnaire": {
            "business_objective": "Group customers whose needs are alike.",
            "decision_supported": "Which segment a campaign or product targets.",
            "time_horizon_days": 180,
            "output_consumers": "Marketing and product teams.",
            "decision_automation": "advisory",
            "materiality": "low",
            "personal_data": True,
            "regulatory_use": [],
        },
    },
}


def validation_message(name: str, exc: ValidationError) -> str:
    problems = "; ".join(
        f"`{'.'.join(str(p) for p in e['loc']) or '(top level)'}`: {e['msg']}" for e in exc.errors()
    )
    return f"experiment '{name}': {problems}"


def build_spec(data: dict[str, Any]) -> ExperimentSpec:
    """Validate `data` as a spec; SpecError naming each bad field."""
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(validation_message(str(data.get("name", "?")), exc)) from None
    if spec.questionnaire is not None:
        try:
            spec.questionnaire.check_problem_type(spec.problem_type.value)
        except ValueError as exc:
            raise SpecError(f"experiment '{spec.name}': questionnaire: {exc}") from None
    return spec


def with_answers(data: dict[str, Any], answers: dict[str, Any] | None) -> dict[str, Any]:
    """`data` (spec fields) with the questionnaire's defaults; explicit fields win."""
    if not answers:
        return data
    from aurora_pipelines.workspace.questionnaire import Questionnaire

    try:
        questionnaire = Questionnaire.model_validate(answers)
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in e['loc']) or 'answers'}`: {e['msg']}" for e in exc.errors()
        )
        raise SpecError(f"questionnaire: {problems}; fix the answer and run again") from None
    merged = copy.deepcopy(data)
    merged["questionnaire"] = questionnaire.model_dump(mode="json", exclude_none=True)
    problem = str(merged.get("problem_type", "classification"))
    merged["training"] = {
        **questionnaire.training_defaults(problem),
        **merged.get("training", {}),
    }
    governance = questionnaire.governance_defaults()
    merged["governance"] = {**governance, **merged.get("governance", {})}
    return merged


def write_atomically(directory: Path, spec: ExperimentSpec) -> Path:
    """Write experiments/NAME.yaml by rename, so a reader never sees half a spec."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{spec.name}.yaml"
    text = yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True), sort_keys=False)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{spec.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
    return path


def save_new(
    settings: Settings, workspace: WorkspaceStore, spec: ExperimentSpec, actor: str, note: str
) -> tuple[Path, SpecVersion]:
    path = settings.experiments_dir / f"{spec.name}.yaml"
    if path.exists():
        raise SpecError(f"experiment '{spec.name}' already exists at {path}; pick another name")
    written = write_atomically(settings.experiments_dir, spec)
    version, _ = workspace.record_version(spec, actor, note)
    return written, version


def update_spec(
    settings: Settings,
    workspace: WorkspaceStore,
    name: str,
    changes: dict[str, Any],
    actor: str,
    note: str = "",
) -> tuple[ExperimentSpec, SpecVersion, bool]:
    """Apply dotted-path `changes` (e.g. {"training.metric_min": 0.3}) as `actor`, an owner or
    editor; (new spec, its version, whether it changed)."""
    current = find_spec(settings.experiments_dir, name)
    workspace.require(current, actor, EDIT)
    data = current.model_dump(mode="json", exclude_defaults=True)
    for dotted, value in changes.items():
        if dotted in ("name", "owner"):
            raise SpecError(f"`{dotted}` cannot be edited; clone the experiment instead")
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SpecError(f"`{dotted}`: `{part}` is not a section of the spec")
            node = child
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    spec = build_spec(data)
    # Record the version the file had (a hand edit) before this change.
    workspace.record_version(current, current.owner, note="found on disk before an edit")
    version, changed = workspace.record_version(spec, actor, note)
    if changed:
        write_atomically(settings.experiments_dir, spec)
    return spec, version, changed


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """`key=value` pairs, values read as YAML (numbers, booleans, lists); `key=` removes."""
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"`{pair}` is not KEY=VALUE (e.g. training.metric_min=0.3)")
        changes[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
    return changes


def clone_data(
    settings: Settings,
    workspace: WorkspaceStore,
    source_name: str,
    new_name: str,
    actor: str,
    team: str,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The new spec's fields: the source's, renamed, owned by `actor`, origin recorded."""
    original = find_spec(settings.experiments_dir, source_name)
    workspace.require(original, actor, READ)
    if (settings.experiments_dir / f"{new_name}.yaml").exists():
        raise SpecError(
            f"experiment '{new_name}' already exists; clone onto a new name (nothing written)"
        )
    version, _ = workspace.record_version(original, original.owner, note="cloned")
    data = original.model_dump(mode="json", exclude_defaults=True)
    data.update(
        name=new_name,
        owner=actor,
        team=team,
        features={
            "dbt_model": f"{new_name}_features",
            "scoring_dbt_model": f"{new_name}_scoring_features",
        },
        origin={
            "kind": "clone",
            "name": source_name,
            "version": version.version,
            "content_hash": version.content_hash,
        },
    )
    data.pop("archived", None)
    if source is not None:
        data["source"] = source
        data.get("scoring", {}).pop("source", None)
    return data


def template_data(template: str) -> dict[str, Any]:
    """A template's spec fields (no name, source or owner yet)."""
    if template not in TEMPLATES:
        raise SpecError(f"unknown template '{template}' (known: {', '.join(TEMPLATES)})")
    data = copy.deepcopy(TEMPLATES[template])
    kind = data.get("problem_type")
    if kind not in {p.value for p in ProblemType}:
        raise SpecError(
            f"template '{template}' needs problem type '{kind}', which this Aurora does not "
            f"support yet (known: {', '.join(p.value for p in ProblemType)}); use "
            "credit_scoring or churn, or upgrade once clustering lands"
        )
    return data


def archive(
    settings: Settings,
    workspace: WorkspaceStore,
    name: str,
    actor: str,
    *,
    reason: str = "",
    remove_aliases: bool,
) -> tuple[ExperimentSpec, list[str]]:
    """Archive as an owner: schedules and sensors stop (the code location skips them); with
    `remove_aliases` (the user confirmed) the model loses its serving aliases. Audited."""
    current = find_spec(settings.experiments_dir, name)
    workspace.require(current, actor, ARCHIVE)
    if current.archived is not None:
        raise SpecError(f"experiment '{name}' is already archived (by {current.archived.by})")
    removed: list[str] = []
    if remove_aliases:
        removed = _remove_aliases(settings.tracking_uri, name)
    data = current.model_dump(mode="json", exclude_defaults=True)
    data["archived"] = {"by": actor, "at": datetime.now(UTC).isoformat(), "reason": reason}
    spec = build_spec(data)
    version, _ = workspace.record_version(spec, actor, note=f"archived: {reason}".strip())
    write_atomically(settings.experiments_dir, spec)
    workspace.governance.audit(
        EXPERIMENT_ARCHIVED,
        actor,
        f"experiment/{name}",
        {"reason": reason, "aliases_removed": removed, "spec_version": version.version},
    )
    return spec, removed


def _remove_aliases(tracking_uri: str, name: str) -> list[str]:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri, tracking_uri)
    try:
        model = client.get_registered_model(name)
    except MlflowException:
        return []  # never trained: no aliases to remove
    removed = []
    for alias in SERVING_ALIASES:
        if alias in (model.aliases or {}):
            client.delete_registered_model_alias(name, alias)
            removed.append(f"{alias}=v{model.aliases[alias]}")
    return removed
