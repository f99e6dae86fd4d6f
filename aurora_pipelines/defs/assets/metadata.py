"""Small translations from engine results to Dagster metadata."""

from pathlib import Path
from typing import Any

import dagster as dg

from aurora_pipelines.results import CheckVerdict, JsonValue, Markdown, StageResult


def table_schema(columns: list[tuple[str, str]]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, type_) for name, type_ in columns])


def path_url(path: Path) -> dg.MetadataValue:
    return dg.MetadataValue.path(str(path))


def commit_info(context: dg.AssetExecutionContext) -> dict[str, str]:
    """Stamped into each Delta commit so the table history names the run that wrote it."""
    return {"dagster_run_id": context.run_id, "asset": context.asset_key.to_user_string()}


ACTOR_TAG = "aurora/actor"
DAGSTER_USER_TAG = "dagster/user"


def actor_of(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> str | None:
    """Who launched the run: its `aurora/actor` tag (the CLI, the approval sensor), else the
    `dagster/user` tag of a UI launch. Never the process that loaded the code location."""
    tags = context.run.tags
    return tags.get(ACTOR_TAG) or tags.get(DAGSTER_USER_TAG) or None


def correlation_id(context: dg.AssetExecutionContext) -> str:
    """The run's `aurora/correlation_id` tag (set by `aurora run` and the approval sensor), else
    the run id: the id that ties audit rows, logs and Dagster runs together."""
    return context.run.tags.get("aurora/correlation_id") or context.run_id


def to_metadata(values: dict) -> dict[str, Any]:
    """An engine result's `as_metadata()` in Dagster's types; None values are left out."""
    converted: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, Markdown):
            converted[name] = dg.MetadataValue.md(str(value))
        elif isinstance(value, JsonValue):
            converted[name] = dg.MetadataValue.json(dict(value))
        elif isinstance(value, Path):
            converted[name] = dg.MetadataValue.path(str(value))
        else:
            converted[name] = value
    return converted


def check_result(verdict: CheckVerdict) -> dg.AssetCheckResult:
    """An engine check verdict as the asset check result Dagster records."""
    return dg.AssetCheckResult(
        check_name=verdict.name,
        passed=bool(verdict.passed),
        severity=dg.AssetCheckSeverity(verdict.severity.value),
        description=None if verdict.passed else (verdict.description or None),
        metadata=to_metadata(verdict.metadata),
    )


def materialize(result: StageResult, *, table: Path | None = None) -> dg.MaterializeResult:
    """An engine stage result as the materialization Dagster records: metadata and checks;
    with `table`, the Delta table's column schema (and row count, unless the result says)."""
    metadata = to_metadata(result.as_metadata())
    for name, value in (table_metadata(table) if table is not None else {}).items():
        metadata.setdefault(name, value)
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[check_result(v) for v in result.checks()],
    )


def table_metadata(path: Path, *, rows: bool = True) -> dict[str, Any]:
    """`dagster/column_schema` (and `dagster/row_count` of the current version) of the Delta
    table at `path`, read from its log; empty when no table is there yet."""
    from aurora_pipelines.lake import delta

    if not delta.is_delta_table(path):
        return {}
    metadata: dict[str, Any] = {"dagster/column_schema": table_schema(delta.schema_columns(path))}
    count = delta.row_count(path) if rows else None
    if count is not None:
        metadata["dagster/row_count"] = count
    return metadata
