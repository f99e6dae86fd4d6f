"""Small translations from engine results to Dagster metadata."""

from pathlib import Path

import dagster as dg


def table_schema(columns: list[tuple[str, str]]) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(name, type_) for name, type_ in columns])


def path_url(path: Path) -> dg.MetadataValue:
    return dg.MetadataValue.path(str(path))


def commit_info(context: dg.AssetExecutionContext) -> dict[str, str]:
    """Stamped into each Delta commit so the table history names the run that wrote it."""
    return {"dagster_run_id": context.run_id, "asset": context.asset_key.to_user_string()}


def correlation_id(context: dg.AssetExecutionContext) -> str:
    """The run's `aurora/correlation_id` tag (set by `aurora run` and the approval sensor), else
    the run id: the id that ties audit rows, logs and Dagster runs together."""
    return context.run.tags.get("aurora/correlation_id") or context.run_id
