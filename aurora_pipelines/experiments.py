"""`aurora experiments create`: a checked spec plus the dbt files its feature set needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from aurora_pipelines.errors import SpecError
from aurora_pipelines.governance.policy import load_policy
from aurora_pipelines.settings import Settings
from aurora_pipelines.sources.readers import infer_source, require_columns
from aurora_pipelines.specs import ExperimentSpec, write_spec

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


def create_experiment(
    settings: Settings,
    *,
    name: str,
    source: str,
    target: str,
    team: str | None,
    problem_type: str,
    id_column: str | None,
    time_column: str | None,
) -> CreatedExperiment:
    """Validate everything first (spec, source, columns), then write; a failure writes nothing."""
    spec_path = settings.experiments_dir / f"{name}.yaml"
    if spec_path.exists():
        raise SpecError(f"experiment '{name}' already exists at {spec_path}; pick another name")
    owner = settings.user or "unknown"
    if team is None:
        policy = load_policy(settings.policy)
        team = policy.user(owner).team if settings.user else None
        if not team:
            raise SpecError("no team given: pass --team or set AURORA_USER to a policy identity")
    source_spec = infer_source(source)
    try:
        spec = ExperimentSpec(
            name=name,
            team=team,
            owner=owner,
            source=source_spec,
            target=target,
            problem_type=problem_type,
            id_column=id_column,
            time_column=time_column,
            features={
                "dbt_model": f"{name}_features",
                "scoring_dbt_model": f"{name}_scoring_features",
            },
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in e['loc'])}`: {e['msg']}" for e in exc.errors()
        )
        raise SpecError(f"experiment '{name}': {problems}") from None

    from aurora_pipelines.lake.spark import get_spark
    from aurora_pipelines.sources.access import SourceAccess

    # Read as the experiment's team: no grant, no experiment (and the refusal is audited).
    access = SourceAccess.from_settings(settings, team, experiment=name)
    df = access.read(get_spark(settings), source_spec).df
    require_columns(
        df,
        {"target": target, "id_column": id_column or "", "time_column": time_column or ""},
        source_spec,
    )
    dbt_files = _scaffold_dbt(settings.dbt_project_dir, name)
    return CreatedExperiment(
        spec=spec, spec_path=write_spec(settings.experiments_dir, spec), dbt_files=dbt_files
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
