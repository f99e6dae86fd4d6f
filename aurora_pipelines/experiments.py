"""`aurora experiments create`: a checked spec plus the dbt files its feature set needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aurora_pipelines.errors import SpecError
from aurora_pipelines.governance.policy import load_policy
from aurora_pipelines.settings import Settings
from aurora_pipelines.sources.readers import infer_source, require_columns
from aurora_pipelines.specs import ExperimentSpec, SourceSpec

SOURCES_YAML = """version: 2

# Scaffolded by `aurora experiments create {name}`: the experiment's raw Delta tables.
sources:
  - name: {name}_raw
    meta:
      plugin: delta
      aurora:
        experiment: {name}
    tables:
      - name: raw
        meta:
          delta_table_path: "{{{{ env_var('AURORA_HOME') }}}}/lake/{name}/raw"
      - name: scoring_batch
        meta:
          delta_table_path: "{{{{ env_var('AURORA_HOME') }}}}/lake/{name}/raw_batch"

models:
  - name: {name}_features
    description: Training features of experiment {name}. Edit the SQL to engineer features.
    config:
      meta:
        aurora: {{experiment: {name}, stage: features}}
  - name: {name}_scoring_features
    description: Scoring features of experiment {name}; keep it in step with {name}_features.
    config:
      meta:
        aurora: {{experiment: {name}, stage: scoring_features}}
"""

MODEL_SQL = """{{{{ config(delta_path=env_var('AURORA_HOME') ~ '/lake/{name}/{stage}') }}}}

-- Scaffolded pass-through: replace `*` with engineered features (keep the id and target).
select * from {{{{ source('{name}_raw', '{table}') }}}}
"""


@dataclass(frozen=True)
class CreatedExperiment:
    spec: ExperimentSpec
    spec_path: Path
    dbt_files: list[Path] = field(default_factory=list)
    dbt_project_dir: Path | None = None
    version: int | None = None


def create_experiment(
    settings: Settings,
    *,
    name: str,
    source: str | SourceSpec,
    target: str | None,
    team: str | None,
    problem_type: str,
    id_column: str | None,
    time_column: str | None,
    answers: dict[str, Any] | None = None,
    description: str = "",
    tags: list[str] | None = None,
    dbt_project_dir: Path | None = None,
    base: dict[str, Any] | None = None,
) -> CreatedExperiment:
    """Validate everything first (spec, questionnaire, source, columns), then write; a
    failure writes nothing. `answers` (the questionnaire) drive training and governance
    defaults; `base` holds fields of a template or a clone; the dbt scaffolds go into
    `dbt_project_dir` (default: the deployment's dbt project)."""
    from aurora_pipelines.workspace.manage import build_spec, with_answers

    spec_path = settings.experiments_dir / f"{name}.yaml"
    if spec_path.exists():
        raise SpecError(f"experiment '{name}' already exists at {spec_path}; pick another name")
    project = Path(dbt_project_dir or settings.dbt_project_dir)
    if not (project / "dbt_project.yml").is_file():
        raise SpecError(
            f"{project} is not a dbt project (no dbt_project.yml); pass --dbt-project DIR "
            "of the project the code location builds (AURORA_DBT_PROJECT_DIR)"
        )
    owner = settings.user or "unknown"
    if team is None:
        policy = load_policy(settings.policy)
        team = policy.user(owner).team if settings.user else None
        if not team:
            raise SpecError("no team given: pass --team or set AURORA_USER to a policy identity")
    source_spec = source if isinstance(source, SourceSpec) else infer_source(source)
    data: dict[str, Any] = {
        **(base or {}),
        "name": name,
        "team": team,
        "owner": owner,
        "source": source_spec.model_dump(mode="json", exclude_defaults=True),
        "target": target,
        "problem_type": problem_type,
        "id_column": id_column,
        "time_column": time_column,
        "features": {
            "dbt_model": f"{name}_features",
            "scoring_dbt_model": f"{name}_scoring_features",
        },
    }
    if description:
        data["description"] = description
    if tags:
        data["tags"] = sorted({*data.get("tags", []), *tags})
    spec = build_spec(with_answers(data, answers))

    from aurora_pipelines.lake.spark import get_spark
    from aurora_pipelines.sources.access import SourceAccess

    # Read as the experiment's team: no grant, no experiment (and the refusal is audited).
    access = SourceAccess.from_settings(settings, team, experiment=name)
    df = access.read(get_spark(settings), source_spec).df
    require_columns(
        df,
        {"target": target or "", "id_column": id_column or "", "time_column": time_column or ""},
        source_spec,
    )
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.workspace.manage import save_new
    from aurora_pipelines.workspace.store import WorkspaceStore

    dbt_files = _scaffold_dbt(project, name)
    workspace = WorkspaceStore(GovernanceStore.from_settings(settings))
    origin = spec.origin
    note = f"created from {origin.kind} {origin.name}" if origin else "created"
    path, version = save_new(settings, workspace, spec, owner, note)
    return CreatedExperiment(
        spec=spec,
        spec_path=path,
        dbt_files=dbt_files,
        dbt_project_dir=project,
        version=version.version,
    )


def _scaffold_dbt(project_dir: Path, name: str) -> list[Path]:
    folder = project_dir / "models" / "experiments" / name
    files = {
        folder / f"{name}.yml": SOURCES_YAML.format(name=name),
        folder / f"{name}_features.sql": MODEL_SQL.format(name=name, stage="features", table="raw"),
        folder / f"{name}_scoring_features.sql": MODEL_SQL.format(
            name=name, stage="scoring_features", table="scoring_batch"
        ),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    return list(files)
