"""Copy a governed source into the experiment's raw Delta table."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aurora_pipelines.lake import delta
from aurora_pipelines.sources.readers import read_source, require_columns
from aurora_pipelines.specs import SourceSpec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class IngestResult:
    path: Path
    rows: int
    columns: list[tuple[str, str]]
    version: int


def ingest_source(
    spark: SparkSession,
    source: SourceSpec,
    dest: Path,
    required_columns: dict[str, str],
    commit_info: dict[str, str] | None = None,
) -> IngestResult:
    """Read `source` on Spark, check the spec's columns exist, commit it to Delta at `dest`.

    The column check runs before any write, so a bad spec leaves the lake untouched.
    """
    df = read_source(spark, source)
    require_columns(df, required_columns, source)
    version = delta.write_spark(df, dest, commit_info=commit_info)
    return IngestResult(
        path=dest,
        rows=df.count(),
        columns=[(f.name, f.dataType.simpleString()) for f in df.schema.fields],
        version=version,
    )
