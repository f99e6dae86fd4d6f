"""Profile an experiment's data and keep the results where assets and the CLI find them.

Layout under AURORA_HOME:
  reports/<experiment>/eda/profile.html   the report (plots inline)
  reports/<experiment>/eda/profile.json   the latest profile (`aurora profile NAME --json`)
  expectations/<experiment>/raw.json      the GX suite every new raw batch is validated against
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurora_pipelines import lifecycle
from aurora_pipelines.lake import delta
from aurora_pipelines.profiling.expectations import (
    SuiteValidation,
    load_suite,
    validate_frame,
    write_suite,
)
from aurora_pipelines.profiling.profile import Profile, profile_table
from aurora_pipelines.profiling.report import write_profile_html, write_profile_json
from aurora_pipelines.profiling.sampling import sample_to_pandas
from aurora_pipelines.specs import ExperimentSpec, SamplingSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from aurora_pipelines.settings import Settings

VALIDATION_SAMPLE_ROWS = 50_000


def report_dir(settings: Settings, experiment: str) -> Path:
    return settings.reports_dir / experiment / "eda"


def profile_json_path(settings: Settings, experiment: str) -> Path:
    return report_dir(settings, experiment) / "profile.json"


def suite_path(settings: Settings, experiment: str) -> Path:
    return settings.root / "expectations" / experiment / "raw.json"


@dataclass(frozen=True)
class ExperimentProfile:
    profile: Profile
    html: Path
    json: Path
    suite: Path
    source: str


@dataclass(frozen=True)
class ProfileInput:
    """What to profile: the DataFrame, where it came from, and the Parquet files it reads
    unchanged (None when it is not a plain file read), which lets the profile use DuckDB."""

    df: DataFrame
    source: str
    files: list[str] | None = None


def read_delta_input(spark: SparkSession, path: Path) -> ProfileInput:
    """A Delta snapshot on Spark and its file list, from one read of the Delta log."""
    files = delta.file_uris(path)
    df = spark.read.parquet(*files) if files else delta.read_spark(spark, path)
    return ProfileInput(df, f"raw Delta table {path}", files or None)


def experiment_input(spark: SparkSession, settings: Settings, spec: ExperimentSpec) -> ProfileInput:
    """The raw Delta table when materialized, else the governed source read as the team."""
    raw = settings.lake_dir.joinpath(spec.name, *lifecycle.RAW)
    if delta.is_delta_table(raw):
        return read_delta_input(spark, raw)
    from aurora_pipelines.sources.access import SourceAccess

    access = SourceAccess.from_settings(settings, spec.team, experiment=spec.name)
    # Sources may be masked, filtered or queried: always profiled on Spark.
    return ProfileInput(access.read(spark, spec.source).df, f"source {spec.source.display}")


def profile_experiment(
    settings: Settings,
    spec: ExperimentSpec,
    df: DataFrame,
    source: str,
    progress: Callable[[str], None] | None = None,
    files: list[str] | None = None,
) -> ExperimentProfile:
    """Profile `df` as the spec says; write the report, the JSON and the expectation suite.

    `files`: the Parquet files `df` reads unchanged (see `ProfileInput`), or None.
    """
    profile = profile_table(
        df,
        target=spec.target,
        id_column=spec.id_column,
        sampling=spec.profiling.sampling_plan,
        seed=spec.profiling.seed,
        progress=progress,
        files=files,
    )
    if progress:
        progress("report and expectation suite")
    out = report_dir(settings, spec.name)
    return ExperimentProfile(
        profile=profile,
        html=write_profile_html(profile, out / "profile.html"),
        json=write_profile_json(profile, out / "profile.json"),
        suite=write_suite(profile, suite_path(settings, spec.name), f"{spec.name}.raw"),
        source=source,
    )


def validate_batch(
    spark: SparkSession,
    settings: Settings,
    spec: ExperimentSpec,
    path: Path,
    rows: int,
    skip_roles: tuple[str, ...] = (),
) -> SuiteValidation | None:
    """Validate a raw Delta batch against the experiment's suite (None: no suite yet)."""
    suite_file = suite_path(settings, spec.name)
    if not suite_file.exists():
        return None
    df = delta.read_spark(spark, path)
    if rows == 0:
        frame = df.toPandas()
    else:
        frame, _ = sample_to_pandas(
            df,
            table_rows=rows,
            plan=SamplingSpec(rows=VALIDATION_SAMPLE_ROWS),
            seed=spec.profiling.seed,
        )
    return validate_frame(frame, load_suite(suite_file), skip_roles=skip_roles)


def latest_profile(settings: Settings, experiment: str) -> dict[str, Any] | None:
    import json

    path = profile_json_path(settings, experiment)
    return json.loads(path.read_text()) if path.exists() else None


def latest_quality_score(settings: Settings, experiment: str) -> float | None:
    """The data-quality score (0-100, two decimals) of the experiment's latest profile, read
    from the `profile.json` the profiler wrote; None when the data was never profiled."""
    found = latest_profile(settings, experiment)
    if found is None or found.get("quality_score") is None:
        return None
    return round(float(found["quality_score"]), 2)
