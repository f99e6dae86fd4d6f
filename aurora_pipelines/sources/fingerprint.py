"""A cheap fingerprint of a source's current data, to tell whether it changed since last look.

Read without Spark or a database connection, so a sensor can ask every minute: a Delta
table's version, a file's (or a directory's files') sizes and modification times, and for a
catalog table the files of its managed location under the warehouse. JDBC tables and queries
cannot be fingerprinted that way; they give None (refresh them on a schedule instead).

The ingest stamps the fingerprint it read into its Delta commit (`COMMIT_KEY`), so the
new-data sensor compares a source with what its raw copy actually holds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from aurora_pipelines.settings import Settings
from aurora_pipelines.specs import SourceSpec

COMMIT_KEY = "aurora_source_fingerprint"


def _data_file(file: Path, root: Path) -> bool:
    """A committed file: not in a writer's staging folder (`_temporary`, `.spark-staging-*`)."""
    parts = file.relative_to(root).parts[:-1]
    return file.is_file() and not any(p.startswith(("_temporary", ".spark-staging")) for p in parts)


def _files_digest(path: Path) -> str | None:
    if not path.exists():
        return None
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if _data_file(p, path))
    if not files:  # mid-overwrite (Spark cleared the table, the new files are still staged)
        return None
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(
            f"{file.relative_to(path.parent)}:{stat.st_size}:{stat.st_mtime_ns};".encode()
        )
    return digest.hexdigest()[:16]


def managed_table_dir(settings: Settings, table: str) -> Path:
    """Where Spark's Hive catalog keeps a managed table `database.table`."""
    database, _, name = table.rpartition(".")
    base = settings.warehouse_dir
    return base / f"{database}.db" / name if database and database != "default" else base / name


def source_fingerprint(source: SourceSpec, settings: Settings) -> str | None:
    """A string that changes when the source's data changes; None if it cannot be known here
    (JDBC, queries, external catalog tables) or the source does not exist yet."""
    if source.kind == "delta":
        from aurora_pipelines.lake import delta

        return f"delta:v{delta.version(source.path)}" if delta.is_delta_table(source.path) else None
    if source.kind in ("csv", "parquet"):
        digest = _files_digest(Path(source.path or ""))
        return f"files:{digest}" if digest else None
    if source.kind == "table" and source.table:
        digest = _files_digest(managed_table_dir(settings, source.table))
        return f"table:{digest}" if digest else None
    return None


def ingested_fingerprint(table: Path) -> str | None:
    """The source fingerprint the table's latest commit was ingested from; None when that
    commit recorded none (written before fingerprints were stamped, or not by an ingest)."""
    from deltalake import DeltaTable

    latest = DeltaTable(str(table)).history(limit=1)
    return str(latest[0][COMMIT_KEY]) if latest and latest[0].get(COMMIT_KEY) else None
