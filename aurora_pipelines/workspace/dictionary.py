"""The data dictionary of an experiment's source: generated from its profile (type, semantic
type, missing share, example values, PII rule) into the dbt sources YAML (so `dbt docs` shows
it) and a Markdown and HTML page; descriptions the owner edits survive regeneration.

A generated description is remembered in the column's `meta.aurora.generated`; on the next
regeneration a description equal to it (or empty) is replaced, any other text is the
owner's and is kept.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from aurora_pipelines.errors import SpecError

if TYPE_CHECKING:
    from aurora_pipelines.settings import Settings
    from aurora_pipelines.specs import ExperimentSpec

RAW_TABLE = "raw"


@dataclass(frozen=True)
class DictionaryEntry:
    column: str
    type: str
    semantic_type: str
    missing_pct: float
    examples: list[str]
    pii: str | None
    description: str
    role: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def generated_description(column: dict[str, Any], role: str, pii: str | None) -> str:
    kind = column.get("semantic_type", "")
    parts = [f"{kind} column".strip().capitalize()]
    if role:
        parts.append(f"the experiment's {role}")
    parts.append(f"{column.get('missing_pct', 0):.1f}% missing")
    if pii:
        parts.append(f"PII ({pii} when read)")
    return "; ".join(parts) + "."


def _roles(spec: ExperimentSpec) -> dict[str, str]:
    roles = {spec.target: "target"}
    if spec.id_column:
        roles[spec.id_column] = "row id"
    if spec.time_column:
        roles[spec.time_column] = "event time"
    return roles


def build_entries(
    spec: ExperimentSpec,
    profile: dict[str, Any],
    pii: dict[str, str],
    descriptions: dict[str, str] | None = None,
) -> list[DictionaryEntry]:
    """One entry per profiled column; `descriptions` (the owner's) win over generated ones."""
    roles = _roles(spec)
    entries = []
    for column in profile.get("columns", []):
        name = column["name"]
        examples = [str(v.get("value")) for v in column.get("top_values", [])[:3]]
        if not examples and column.get("min") is not None:
            examples = [str(column.get("min")), str(column.get("max"))]
        role = roles.get(name, "")
        entries.append(
            DictionaryEntry(
                column=name,
                type=column.get("spark_type", ""),
                semantic_type=str(column.get("semantic_type", "")),
                missing_pct=round(float(column.get("missing_pct", 0.0)), 2),
                examples=examples,
                pii=pii.get(name),
                description=(descriptions or {}).get(name)
                or generated_description(column, role, pii.get(name)),
                role=role,
            )
        )
    return entries


def sources_yaml_path(project_dir: Path, name: str) -> Path:
    return project_dir / "models" / "experiments" / name / f"{name}.yml"


def _raw_table(document: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    for source in document.get("sources", []) or []:
        if source.get("name") == f"{name}_raw":
            for table in source.get("tables", []) or []:
                if table.get("name") == RAW_TABLE:
                    return table
    raise SpecError(
        f"{path} has no source {name}_raw with table `{RAW_TABLE}` (the scaffold of "
        "`aurora experiments create`); restore it to generate the dictionary"
    )


def owner_descriptions(table: dict[str, Any]) -> dict[str, str]:
    """Descriptions in the YAML that differ from what was generated: the owner's edits."""
    kept = {}
    for column in table.get("columns", []) or []:
        text = (column.get("description") or "").strip()
        generated = ((column.get("meta") or {}).get("aurora") or {}).get("generated")
        if text and text != generated:
            kept[column["name"]] = text
    return kept


def write_dictionary(
    settings: Settings, spec: ExperimentSpec, project_dir: Path | None = None
) -> dict[str, Path]:
    """Regenerate the dictionary from the latest profile into the sources YAML and pages."""
    from aurora_pipelines.profiling.experiment import latest_profile
    from aurora_pipelines.sources.access import load_data_access, source_resources

    profile = latest_profile(settings, spec.name)
    if profile is None:
        raise SpecError(
            f"experiment '{spec.name}' has no profile yet; materialize {spec.name}/eda/profile "
            "(`aurora run`) before generating its data dictionary"
        )
    path = sources_yaml_path(Path(project_dir or settings.dbt_project_dir), spec.name)
    if not path.exists():
        raise SpecError(f"no dbt sources file {path}; pass the dbt project it was scaffolded in")
    document = yaml.safe_load(path.read_text()) or {}
    table = _raw_table(document, spec.name, path)
    columns = [c["name"] for c in profile.get("columns", [])]
    access = load_data_access(settings.policy)
    pii: dict[str, str] = {}
    for resource in source_resources(spec.source):
        for column, action in access.pii_actions(resource, columns).items():
            pii.setdefault(column, action)
    entries = build_entries(spec, profile, pii, owner_descriptions(table))
    owned = owner_descriptions(table)
    table["columns"] = [
        {
            "name": e.column,
            "description": e.description,
            "meta": {
                "aurora": {
                    **({} if e.column in owned else {"generated": e.description}),
                    "type": e.type,
                    "semantic_type": e.semantic_type,
                    "missing_pct": e.missing_pct,
                    "examples": e.examples,
                    "pii": e.pii,
                    "role": e.role or None,
                }
            },
        }
        for e in entries
    ]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    out = settings.reports_dir / spec.name / "dictionary"
    out.mkdir(parents=True, exist_ok=True)
    (out / "dictionary.md").write_text(render_markdown(spec.name, entries))
    (out / "dictionary.html").write_text(render_html(spec.name, entries))
    return {"dbt_sources": path, "markdown": out / "dictionary.md", "html": out / "dictionary.html"}


def render_markdown(name: str, entries: list[DictionaryEntry]) -> str:
    lines = [
        f"# Data dictionary: {name}",
        "",
        "| column | type | semantic type | missing % | examples | PII | description |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        lines.append(
            f"| {e.column} | {e.type} | {e.semantic_type} | {e.missing_pct} | "
            f"{', '.join(e.examples)} | {e.pii or '-'} | {e.description} |"
        )
    return "\n".join(lines) + "\n"


def render_html(name: str, entries: list[DictionaryEntry]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(x.column)}</td><td>{e(x.type)}</td><td>{e(x.semantic_type)}</td>"
        f"<td>{x.missing_pct}</td><td>{e(', '.join(x.examples))}</td><td>{e(x.pii or '-')}</td>"
        f"<td>{e(x.description)}</td></tr>"
        for x in entries
    )
    return (
        f"<!doctype html><meta charset='utf-8'><title>Data dictionary: {e(name)}</title>"
        f"<h1>Data dictionary: {e(name)}</h1><table border=1 cellpadding=4>"
        "<tr><th>column</th><th>type</th><th>semantic type</th><th>missing %</th>"
        f"<th>examples</th><th>PII</th><th>description</th></tr>{rows}</table>"
    )


def read_entries(settings: Settings, spec: ExperimentSpec) -> list[dict[str, Any]]:
    """The dictionary as the sources YAML holds it now (for the model card); [] if none."""
    path = sources_yaml_path(settings.dbt_project_dir, spec.name)
    if not path.exists():
        return []
    try:
        table = _raw_table(yaml.safe_load(path.read_text()) or {}, spec.name, path)
    except SpecError:
        return []
    rows = []
    for column in table.get("columns", []) or []:
        meta = (column.get("meta") or {}).get("aurora") or {}
        rows.append(
            {
                "column": column.get("name"),
                "type": meta.get("type"),
                "semantic type": meta.get("semantic_type"),
                "missing %": meta.get("missing_pct"),
                "PII": meta.get("pii") or "-",
                "description": column.get("description", ""),
            }
        )
    return rows
