"""Delta table IO through delta-rs (the embedded default; no JVM jars needed).

Reads go through `to_pandas()` or the table's parquet file list: delta-rs 1.6's
`to_pyarrow_table()/to_pyarrow_dataset()` make the process abort at exit (status 134).
Every write is one atomic Delta commit, so a failed step leaves no half-written table.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from aurora_pipelines.errors import SourceError, is_no_space, storage_full

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

WriteMode = Literal["overwrite", "append"]


def is_delta_table(path: str | Path) -> bool:
    return DeltaTable.is_deltatable(str(path))


def _open(path: str | Path) -> DeltaTable:
    try:
        return DeltaTable(str(path))
    except TableNotFoundError as exc:
        raise SourceError(
            f"no Delta table at {path}; materialize the asset that writes it first"
        ) from exc


def write_table(
    path: str | Path,
    data: pd.DataFrame | pa.Table,
    mode: WriteMode = "overwrite",
    commit_info: dict[str, str] | None = None,
) -> int:
    """Write one atomic commit; returns the new table version.

    `commit_info` lands in the commit's metadata (e.g. the Dagster run id), so the Delta
    history says which run wrote each version.
    """
    if isinstance(data, pd.DataFrame):
        data = pa.Table.from_pandas(data, preserve_index=False)
    with no_space_is_an_error(path, "a Delta table"):
        Path(path).mkdir(parents=True, exist_ok=True)
        write_deltalake(
            str(path),
            data,
            mode=mode,
            schema_mode="overwrite" if mode == "overwrite" else None,
            commit_properties=CommitProperties(custom_metadata=commit_info)
            if commit_info
            else None,
        )
    return DeltaTable(str(path)).version()


@contextlib.contextmanager
def no_space_is_an_error(path: str | Path, what: str) -> Iterator[None]:
    """A full disk during the block is StorageFull naming `path`. delta-rs removes the data
    files of a commit it could not finish, and the log never names them: the table stays at
    its last version."""
    try:
        yield
    except Exception as exc:
        if is_no_space(exc):
            raise storage_full(path, what) from None
        raise


def write_partition(
    path: str | Path,
    data: pa.Table,
    *,
    column: str,
    value: str,
    commit_info: dict[str, str] | None = None,
) -> int:
    """Replace partition `column = value` with `data` in one commit (Delta's replaceWhere), so
    re-running a day is idempotent and other days are untouched; returns the table version.

    A table that exists but is not partitioned by `column` (written before partitioning) is
    replaced whole, once, by the partitioned layout.
    """
    if column not in data.column_names:
        raise ValueError(f"partition column {column!r} is not in the data")
    with no_space_is_an_error(path, "a Delta table partition"):
        Path(path).mkdir(parents=True, exist_ok=True)
        properties = CommitProperties(custom_metadata=commit_info) if commit_info else None
        if is_delta_table(path) and DeltaTable(str(path)).metadata().partition_columns != [column]:
            write_deltalake(
                str(path),
                data,
                mode="overwrite",
                partition_by=[column],
                schema_mode="overwrite",
                commit_properties=properties,
            )
        else:
            quoted = value.replace("'", "''")
            write_deltalake(
                str(path),
                data,
                mode="overwrite",
                partition_by=[column],
                predicate=f"{column} = '{quoted}'",
                # New columns join the table's schema (e.g. batch scores' class_probabilities
                # on a table written before it); a changed column type is still refused.
                schema_mode="merge",
                commit_properties=properties,
            )
    return DeltaTable(str(path)).version()


def commit_partition_files(
    path: str | Path,
    files: list[Path],
    *,
    column: str,
    value: str,
    commit_info: dict[str, str] | None = None,
) -> int:
    """Replace partition `column = value` with parquet files another engine (Spark's
    executors) already wrote under `path/column=value/`, in one commit of add actions: the
    rows never pass through this process. A table with another schema or partitioning gets
    the files' rows through `write_partition` instead (schema merge, re-layout), and the files
    are then removed. Returns the table version; on any error the table is unchanged and the
    files are removed."""
    import time

    import pyarrow.parquet as pq
    from deltalake import Schema as DeltaSchema
    from deltalake.transaction import AddAction, create_table_with_add_actions

    root = Path(path).absolute()
    committed = False
    try:
        with no_space_is_an_error(path, "a Delta table partition"):
            schema = _files_schema(files, column)
            current = DeltaTable(str(root)) if is_delta_table(root) else None
            if current is not None and not _same_layout(current, schema, column):
                data = pq.read_table([str(f) for f in files], partitioning=None)
                rows = data.append_column(column, pa.repeat(value, data.num_rows).cast(pa.string()))
                written = write_partition(
                    root, rows, column=column, value=value, commit_info=commit_info
                )
                committed = True
                for f in files:  # their rows are in the table's own files now
                    f.unlink()
                return written
            now = int(time.time() * 1000)
            actions = [
                AddAction(
                    path=f.relative_to(root).as_posix(),
                    size=f.stat().st_size,
                    partition_values={column: value},
                    modification_time=now,
                    data_change=True,
                    stats=json.dumps({"numRecords": pq.read_metadata(f).num_rows}),
                )
                for f in files
            ]
            properties = CommitProperties(custom_metadata=commit_info) if commit_info else None
            if current is None:
                create_table_with_add_actions(
                    str(root), DeltaSchema.from_arrow(schema), actions, mode="append",
                    partition_by=[column], commit_properties=properties,
                )  # fmt: skip
            else:
                current.create_write_transaction(
                    actions, "overwrite", current.schema(), partition_by=[column],
                    partition_filters=[(column, "=", value)], commit_properties=properties,
                )  # fmt: skip
            committed = True
            return DeltaTable(str(root)).version()
    except BaseException:
        if not committed:
            for f in files:  # never named by the log: nothing reads them
                f.unlink(missing_ok=True)
        raise


def _files_schema(files: list[Path], column: str) -> pa.Schema:
    """The Arrow schema of staged parquet files (one writer's: all alike) plus the partition
    column, which every row has."""
    import pyarrow.parquet as pq

    if not files:
        raise ValueError("no files to commit: write an empty day with write_partition")
    schema = pq.read_schema(files[0]).remove_metadata()
    return schema.append(pa.field(column, pa.string(), nullable=False))


def _same_layout(table: DeltaTable, schema: pa.Schema, column: str) -> bool:
    """Whether files of `schema` can join `table` as they are: same partitioning, same column
    names and types (nullability aside)."""
    from deltalake import Schema as DeltaSchema

    if table.metadata().partition_columns != [column]:
        return False

    def types(delta_schema: DeltaSchema) -> list[tuple[str, str]]:
        fields = json.loads(delta_schema.to_json())["fields"]
        return [(f["name"], _without_nullability(f["type"])) for f in fields]

    return types(table.schema()) == types(DeltaSchema.from_arrow(schema))


def _without_nullability(kind: object) -> str:
    def strip(value: object) -> object:
        if isinstance(value, dict):
            drop = {"nullable", "containsNull", "valueContainsNull", "metadata"}
            return {k: strip(v) for k, v in value.items() if k not in drop}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(kind), sort_keys=True)


def read_partition(
    path: str | Path, *, column: str, value: str, columns: list[str] | None = None
) -> pd.DataFrame:
    """One partition's rows (delta-rs prunes the other partitions' files)."""
    return _open(path).to_pandas(partitions=[(column, "=", value)], columns=columns)


def read_pandas(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    return _open(path).to_pandas(columns=columns)


def version(path: str | Path) -> int:
    return _open(path).version()


def file_uris(path: str | Path) -> list[str]:
    return _open(path).file_uris()


def arrow_schema(path: str | Path) -> pa.Schema:
    """The table's current schema as a pyarrow schema."""
    return pa.schema(_open(path).schema().to_arrow())


def schema_columns(path: str | Path) -> list[tuple[str, str]]:
    """(name, type) pairs of the table's current schema."""
    schema = _open(path).schema()
    return [(f.name, str(f.type)) for f in schema.fields]


def read_spark(
    spark: SparkSession, path: str | Path, partition: tuple[str, str] | None = None
) -> DataFrame:
    """Read the current snapshot on Spark from its parquet file list (no Delta jars needed).

    `partition=(column, value)` reads only that partition's files. Partition columns live in
    the directory names (`date=2026-11-27/`), so they are read back from there, as strings.
    """
    from pyspark.sql import functions as F

    table = _open(path)
    quoted = partition[1].replace("'", "''") if partition else ""
    files = (
        table.file_uris(file_pruning_predicate=f"{partition[0]} = '{quoted}'")
        if partition
        else table.file_uris()
    )
    if not files:
        # An empty snapshot (or partition) has no files: an empty frame with the Delta schema.
        from pyspark.sql.pandas.types import from_arrow_schema

        return spark.createDataFrame(
            [], schema=from_arrow_schema(pa.schema(table.schema().to_arrow()))
        )
    partition_columns = table.metadata().partition_columns
    if not partition_columns:
        return spark.read.parquet(*files)
    df = spark.read.option("basePath", Path(path).absolute().as_uri()).parquet(*files)
    return df.select(
        *[
            F.col(c).cast("string").alias(c) if c in partition_columns else F.col(c)
            for c in df.columns
        ]
    )


def delete_partition(
    path: str | Path, *, column: str, value: str, commit_info: dict[str, str] | None = None
) -> int | None:
    """Remove partition `column = value` (e.g. a day that no longer has anything to say);
    returns the table version, None when there is no table."""
    if not is_delta_table(path):
        return None
    table = DeltaTable(str(path))
    quoted = value.replace("'", "''")
    table.delete(
        f"{column} = '{quoted}'",
        commit_properties=CommitProperties(custom_metadata=commit_info) if commit_info else None,
    )
    return DeltaTable(str(path)).version()


def write_spark(
    df: DataFrame,
    path: str | Path,
    mode: WriteMode = "overwrite",
    commit_info: dict[str, str] | None = None,
) -> int:
    """Commit a Spark DataFrame through Arrow (delta-spark needs jars this machine lacks)."""
    return write_table(path, df.toArrow(), mode=mode, commit_info=commit_info)


def row_count(path: str | Path) -> int | None:
    """Rows of the table's current version from the log's file statistics (no data read);
    None when a writer recorded no statistics."""
    import pyarrow as pa

    actions = pa.table(_open(path).get_add_actions(flatten=True))
    if "num_records" not in actions.column_names:
        return None
    counts = actions.column("num_records").to_pylist()
    return None if any(c is None for c in counts) else int(sum(counts))
