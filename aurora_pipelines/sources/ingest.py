"""Copy a governed source into the experiment's raw Delta table, as the experiment's team."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aurora_pipelines.errors import SourceError
from aurora_pipelines.lake import delta
from aurora_pipelines.sources.access import SourceAccess
from aurora_pipelines.sources.data_checks import check_rows, check_width
from aurora_pipelines.sources.fingerprint import COMMIT_KEY as FINGERPRINT_KEY
from aurora_pipelines.sources.fingerprint import source_fingerprint
from aurora_pipelines.sources.readers import require_columns
from aurora_pipelines.specs import SourceSpec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from aurora_pipelines.settings import Settings


@dataclass(frozen=True)
class IngestResult:
    path: Path
    rows: int
    columns: list[tuple[str, str]]
    version: int
    resources: list[str] = field(default_factory=list)
    pii: dict[str, str] = field(default_factory=dict)


def ingest_source(
    spark: SparkSession,
    source: SourceSpec,
    dest: Path,
    required_columns: dict[str, str],
    *,
    access: SourceAccess,
    commit_info: dict[str, str] | None = None,
    settings: Settings | None = None,
) -> IngestResult:
    """Read `source` as `access.team` (grants, PII), check the spec's columns, commit to Delta.

    Every check runs before the write, and the write is one atomic Delta commit, so a refused
    or malformed source leaves the lake untouched. With `settings`, the commit also records the
    source's fingerprint (`sources/fingerprint.py`), which the new-data sensor compares with.
    """
    # Taken before the read: a change during it makes the new-data sensor refresh again.
    fingerprint = source_fingerprint(source, settings) if settings is not None else None
    if fingerprint:
        commit_info = {**(commit_info or {}), FINGERPRINT_KEY: fingerprint}
    governed = access.read(spark, source)
    df = governed.df
    dropped = {c.rsplit(".", 1)[-1] for c, a in governed.pii.items() if a == "drop"}
    for role, column in required_columns.items():
        if column and column in dropped:
            raise SourceError(
                f"{role} column '{column}' of {source.display} is PII and dropped by the "
                "governance policy (`data_access.pii`); choose another column"
            )
    require_columns(df, required_columns, source)
    if not df.columns:
        raise SourceError(f"source {source.display} has no columns left to ingest")
    check_width(df, source)
    rows = check_rows(df, required_columns, source)
    version = delta.write_spark(df, dest, commit_info=commit_info)
    return IngestResult(
        path=dest,
        rows=rows,
        columns=[(f.name, f.dataType.simpleString()) for f in df.schema.fields],
        version=version,
        resources=governed.resources,
        pii=dict(governed.pii),
    )
