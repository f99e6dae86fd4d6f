"""dbt-duckdb store plugin: commits an `external` model's output to a Delta table.

dbt-duckdb writes an external model to a parquet file and then hands it to the plugin named in
the model's `plugin` config. This plugin turns that file into ONE atomic Delta commit, so a
failed or half-finished dbt run never leaves a half-written feature table.

Model config keys (set in the model's `config()` or its YAML):
- `delta_path` (required): where the Delta table lives.
- `delta_mode`: `overwrite` (default), `append`, or `merge`.
- `unique_key`: a column name or list of names; required for `merge` (upsert by key).

Incremental models: the plugin registers the SQL function `aurora_delta_watermark(path,
column)` on the DuckDB connection (the max of `column` in the Delta table at `path`, NULL
when there is no table yet), which the project's `is_incremental()` / `aurora_watermark()`
macros use in place of the target relation an in-memory DuckDB does not keep between runs.

Run through `aurora-dbt` (dbt_runner.py), the plugin only stages the output and the commit
happens after the model's tests passed; run by plain `dbt`, it commits at once.

Profile entry: `plugins: [{module: aurora_pipelines.lake.dbt_delta_plugin, alias: aurora_delta}]`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dbt.adapters.duckdb.plugins import BasePlugin
from dbt.adapters.duckdb.utils import TargetConfig
from deltalake import CommitProperties, DeltaTable, write_deltalake

from aurora_pipelines.errors import SpecError
from aurora_pipelines.lake.dbt_runner import STAGE_ENV, Staged, stage_record

DELTA_MODES = ("overwrite", "append", "merge")
# SQL function (duckdb: this plugin; spark: dbt_runner) behind the incremental macros.
WATERMARK_FUNCTION = "aurora_delta_watermark"


class Plugin(BasePlugin):
    """Store `materialized='external'` models as Delta tables (overwrite, append or merge)."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        # DuckDB's COPY does not create directories, and the profile's external_root
        # (under AURORA_HOME) does not exist in a fresh home.
        root = getattr(self.creds, "external_root", None)
        if root and "://" not in root:
            Path(root).mkdir(parents=True, exist_ok=True)

    def configure_connection(self, conn: Any) -> None:
        conn.create_function(
            WATERMARK_FUNCTION,
            delta_watermark,
            ["VARCHAR", "VARCHAR"],
            "VARCHAR",
            null_handling="special",
            side_effects=True,
        )

    def store(self, target_config: TargetConfig) -> None:
        model = target_config.relation.identifier or "<unknown model>"
        config = target_config.config
        if target_config.location is None:
            raise SpecError(
                f"dbt model '{model}': plugin '{self.name}' got no external file; "
                "set materialized='external' on the model"
            )
        delta_path = config.get("delta_path")
        if not delta_path:
            raise SpecError(
                f"dbt model '{model}': config 'delta_path' is missing; set "
                f"delta_path='<dir>' in the model's config to use plugin '{self.name}'"
            )
        mode = config.get("delta_mode") or "overwrite"
        unique_key = config.get("unique_key")
        stage_dir = os.environ.get(STAGE_ENV)
        if stage_dir:
            # Under aurora-dbt: commit only once the model's tests passed (dbt_runner.py).
            validate_write_config(model, mode, unique_key)
            staged = Staged(model, str(delta_path), mode, unique_key, target_config.location.path)
            stage_record(Path(stage_dir), staged)
            return
        data = read_external_output(target_config.location.path)
        mode = refresh_mode(mode, _full_refresh())
        commit_model_output(model, data, str(delta_path), mode, unique_key)


def refresh_mode(mode: str, full_refresh: bool) -> str:
    """`--full-refresh` rebuilds an incremental (append/merge) model's table: overwrite."""
    return "overwrite" if full_refresh and mode in ("append", "merge") else mode


def _full_refresh() -> bool:
    from dbt.flags import get_flags

    return bool(getattr(get_flags(), "FULL_REFRESH", False))


def read_external_output(path: str) -> pa.Table:
    """Read the parquet file (or partitioned directory) dbt-duckdb wrote for a model."""
    table = pq.read_table(path)
    # dbt-duckdb writes one all-NULL row for an empty model so the file keeps its schema;
    # a real feature row always has its key, so such a row means "no rows".
    if table.num_rows == 1 and all(pc.all(pc.is_null(c)).as_py() for c in table.columns):
        return table.slice(0, 0)
    return table


def delta_watermark(delta_path: str | None, column: str | None) -> str | None:
    """The max of `column` in the Delta table at `delta_path` as text (timestamps as
    `YYYY-MM-DD HH:MM:SS[.ffffff]`), or None when the table does not exist or is empty."""
    if not delta_path or not column or not DeltaTable.is_deltatable(delta_path):
        return None
    table = DeltaTable(delta_path)
    if column not in [field.name for field in table.schema().fields]:
        raise SpecError(
            f"Delta table {delta_path} has no watermark column '{column}'; set the model's "
            "'watermark' config to one of its columns (or rebuild with --full-refresh)"
        )
    values = table.to_pandas(columns=[column])[column].dropna()
    if values.empty:
        return None
    top = values.max()
    return top.isoformat(sep=" ") if hasattr(top, "isoformat") else str(top)


def commit_model_output(
    model: str,
    data: pa.Table | pa.RecordBatchReader,
    delta_path: str,
    mode: str = "overwrite",
    unique_key: str | Sequence[str] | None = None,
) -> int:
    """Write `data` (a table or a stream) to `delta_path` as one Delta commit; returns the
    new table version."""
    validate_write_config(model, mode, unique_key)
    metadata = {"dbt_model": model, "dbt_delta_mode": mode}
    exists = DeltaTable.is_deltatable(delta_path)
    if mode in ("append", "merge") and exists:
        # An incremental run with nothing new adds nothing: no empty commit.
        if isinstance(data, pa.RecordBatchReader):
            data = data.read_all()
        if data.num_rows == 0:
            return DeltaTable(delta_path).version()
    if mode == "merge" and exists:
        if isinstance(data, pa.RecordBatchReader):
            data = data.read_all()
        keys = _merge_keys(model, unique_key)
        predicate = " AND ".join(f"target.{k} = source.{k}" for k in keys)
        table = DeltaTable(delta_path)
        (
            table.merge(
                data,
                predicate=predicate,
                source_alias="source",
                target_alias="target",
                commit_properties=CommitProperties(custom_metadata=metadata),
            )
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute()
        )
        return DeltaTable(delta_path).version()
    Path(delta_path).mkdir(parents=True, exist_ok=True)
    write_deltalake(
        delta_path,
        data,
        # The first merge has nothing to merge into: it creates the table.
        mode="append" if mode == "append" else "overwrite",
        schema_mode="overwrite" if mode != "append" else None,
        description=f"dbt model {model}" if not exists else None,
        commit_properties=CommitProperties(custom_metadata=metadata),
    )
    return DeltaTable(delta_path).version()


def validate_write_config(model: str, mode: str, unique_key: Any) -> None:
    """Reject a bad `delta_mode`/`unique_key` before anything is written (even on day one)."""
    if mode not in DELTA_MODES:
        raise SpecError(
            f"dbt model '{model}': config 'delta_mode' is '{mode}'; "
            f"use one of {', '.join(DELTA_MODES)}"
        )
    if mode == "merge":
        _merge_keys(model, unique_key)


def _merge_keys(model: str, unique_key: Any) -> list[str]:
    keys = [unique_key] if isinstance(unique_key, str) else list(unique_key or [])
    if not keys:
        raise SpecError(
            f"dbt model '{model}': delta_mode='merge' needs config 'unique_key'; "
            "set unique_key='<id column>' (or a list of columns) on the model"
        )
    return keys
