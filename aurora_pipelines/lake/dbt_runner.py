"""`aurora-dbt`: the dbt CLI with Aurora's Delta lake around it, a drop-in for `dbt`.

dagster-dbt, the Makefile and the tests call it instead of `dbt`; a modeler can too (same
arguments, same output, same exit codes). It runs dbt in this process through dbt's
programmatic API (`dbtRunner`) and adds two things:

1. **Spark target on a machine without delta-spark jars.** dbt-spark's `session` method uses
   the process's SparkSession, so this runner starts Aurora's session first (in-memory catalog,
   see `lake.spark.get_spark(hive=False)`) and registers every dbt source that declares
   `meta.delta_table_path` as a temporary view `<source>__<table>` over the current Delta
   snapshot's parquet files (delta-rs file list). The project's `source()` macro points models
   at those views, so the same models run on duckdb and spark. On spark, feature models are
   staged as parquet tables in a per-process warehouse and committed to Delta by delta-rs.
2. **Staged Delta commits (both targets).** A model's output is committed to its `delta_path`
   (one Delta commit, through `dbt_delta_plugin.commit_model_output`) only after dbt finished,
   and only if the model succeeded AND none of its tests failed. A failing model or test
   leaves the previous Delta version untouched, so nothing downstream can read bad features.
   On duckdb the `aurora_delta` plugin stages instead of committing when `AURORA_DBT_STAGE_DIR`
   is set (plain `dbt` keeps committing at once, before tests).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STAGE_ENV = "AURORA_DBT_STAGE_DIR"
# Commands that execute SQL (and so need Spark and the source views on the spark target).
EXECUTING = {"build", "run", "test", "seed", "snapshot", "compile", "show", "run-operation"}
COMMITTING = {"build", "run"}
FAILED_TEST = {"fail", "error"}


@dataclass(frozen=True)
class Invocation:
    command: str | None
    project_dir: Path
    profiles_dir: Path
    target: str | None

    def flag(self, args: Sequence[str]) -> list[str]:
        """The parse-relevant flags of `args` (parse rejects e.g. --select)."""
        keep = {"--project-dir", "--profiles-dir", "--target", "-t", "--vars", "--profile"}
        keep |= {"--target-path"}
        out: list[str] = []
        for i, arg in enumerate(args):
            name = arg.split("=", 1)[0]
            if name in keep:
                out.append(arg)
                if "=" not in arg and i + 1 < len(args):
                    out.append(args[i + 1])
        return out


def _option(args: Sequence[str], *names: str) -> str | None:
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def parse_invocation(args: Sequence[str]) -> Invocation:
    command = next((a for a in args if not a.startswith("-")), None)
    if command == "docs":
        command = "docs " + next((a for a in args[args.index("docs") + 1 :]), "")
    project = _option(args, "--project-dir") or os.environ.get("DBT_PROJECT_DIR") or "."
    profiles = _option(args, "--profiles-dir") or os.environ.get("DBT_PROFILES_DIR") or project
    target = _option(args, "--target", "-t") or os.environ.get("DBT_TARGET")
    return Invocation(command, Path(project), Path(profiles), target)


def target_type(invocation: Invocation) -> str | None:
    """The adapter type (`duckdb`, `spark`) of the target this invocation will use."""
    try:
        project = yaml.safe_load((invocation.project_dir / "dbt_project.yml").read_text())
        profiles = yaml.safe_load((invocation.profiles_dir / "profiles.yml").read_text())
        profile = profiles[project["profile"]]
        output = profile["outputs"][invocation.target or profile["target"]]
        return str(output["type"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None  # dbt itself reports a broken project or profile


def delta_sources(manifest: Any) -> dict[str, str]:
    """View name -> Delta path for every source that declares `meta.delta_table_path`."""
    views: dict[str, str] = {}
    for source in manifest.sources.values():
        path = (source.meta or {}).get("delta_table_path")
        if path:
            views[f"{source.source_name}__{source.name}"] = str(path)
    return views


def register_delta_views(spark: Any, views: dict[str, str]) -> list[str]:
    """Register each existing Delta table as a temp view; returns the views registered."""
    from aurora_pipelines.lake.delta import is_delta_table, read_spark

    registered = []
    for view, path in views.items():
        # A table that does not exist yet stays unregistered: a model that reads it fails
        # with dbt's "table or view not found", naming the view.
        if is_delta_table(path):
            read_spark(spark, path).createOrReplaceTempView(view)
            registered.append(view)
    return registered


def register_watermark_function(spark: Any) -> None:
    """`aurora_delta_watermark(path, column)` in Spark SQL, for the incremental macros
    (macros/aurora/incremental.sql); duckdb gets it from the aurora_delta plugin."""
    from pyspark.sql.types import StringType

    from aurora_pipelines.lake.dbt_delta_plugin import WATERMARK_FUNCTION, delta_watermark

    spark.udf.register(WATERMARK_FUNCTION, delta_watermark, StringType())


@dataclass(frozen=True)
class Staged:
    """A model output waiting for its tests before it is committed to Delta."""

    model: str
    delta_path: str
    mode: str
    unique_key: Any
    parquet: str | None = None  # duckdb: the external file; spark: read from the table
    relation: str | None = None


def stage_record(stage_dir: Path, staged: Staged) -> None:
    stage_dir.mkdir(parents=True, exist_ok=True)
    (stage_dir / f"{staged.model}.json").write_text(json.dumps(staged.__dict__))


def read_staged(stage_dir: Path) -> dict[str, Staged]:
    if not stage_dir.exists():
        return {}
    return {p.stem: Staged(**json.loads(p.read_text())) for p in sorted(stage_dir.glob("*.json"))}


def cleared_models(results: Iterable[Any]) -> tuple[set[str], dict[str, list[str]]]:
    """Models that succeeded with no failed test, and the failed tests of the others."""
    succeeded: dict[str, str] = {}
    failed_tests: dict[str, list[str]] = {}
    for result in results:
        node = result.node
        status = str(getattr(result.status, "value", result.status))
        if node.resource_type == "model" and status == "success":
            succeeded[node.unique_id] = node.alias
        elif node.resource_type == "test" and status in FAILED_TEST:
            attached = getattr(node, "attached_node", None)
            models = [attached] if attached else list(node.depends_on.nodes)
            for model in models:
                failed_tests.setdefault(model, []).append(node.name)
    cleared = {alias for uid, alias in succeeded.items() if uid not in failed_tests}
    blocked = {succeeded[uid]: tests for uid, tests in failed_tests.items() if uid in succeeded}
    return cleared, blocked


def commit_cleared(
    results: Iterable[Any],
    manifest: Any,
    stage_dir: Path,
    spark: Any | None,
    full_refresh: bool = False,
) -> dict[str, int]:
    """Commit every cleared model's staged output to Delta; returns model -> new version.

    With `full_refresh`, incremental (append/merge) models overwrite their table.
    """
    from aurora_pipelines.lake.dbt_delta_plugin import (
        commit_model_output,
        read_external_output,
        refresh_mode,
    )

    results = list(results)
    cleared, blocked = cleared_models(results)
    staged = read_staged(stage_dir)
    if spark is not None:
        # On spark nothing is staged by a plugin: the model's table is the staging area.
        for result in results:
            node = result.node
            path = node.config.get("delta_path") if node.resource_type == "model" else None
            if path and node.alias in cleared:
                staged[node.alias] = Staged(
                    model=node.alias,
                    delta_path=str(path),
                    mode=node.config.get("delta_mode") or "overwrite",
                    unique_key=node.config.get("unique_key"),
                    relation=f"{node.schema}.{node.alias}",
                )
    versions: dict[str, int] = {}
    for model, tests in sorted(blocked.items()):
        _say(
            f"model {model} NOT committed to Delta: test(s) {', '.join(sorted(tests))} "
            "failed; the previous version of the table is unchanged"
        )
    for model in sorted(cleared & staged.keys()):
        item = staged[model]
        if item.relation is not None:
            data = spark_table_output(spark, item.relation)
        else:
            data = read_external_output(str(item.parquet))
        mode = refresh_mode(item.mode, full_refresh)
        before = delta_version(item.delta_path)
        versions[model] = commit_model_output(model, data, item.delta_path, mode, item.unique_key)
        if versions[model] == before:
            _say(f"model {model}: no new rows; Delta {item.delta_path} stays at version {before}")
        else:
            _say(f"model {model} committed to Delta {item.delta_path} (version {versions[model]})")
    return versions


def delta_version(path: str) -> int | None:
    from deltalake import DeltaTable

    return DeltaTable(path).version() if DeltaTable.is_deltatable(path) else None


def lake_schema(schema: Any) -> Any:
    """Timestamps as duckdb writes them: microseconds, no zone (Delta timestamp_ntz).

    Spark hands `timestamp` over as UTC-zoned (or INT96 nanoseconds in its parquet); the
    session time zone is UTC (lake.spark), so the wall-clock values are unchanged.
    """
    import pyarrow as pa

    return pa.schema(
        pa.field(f.name, pa.timestamp("us"), f.nullable) if pa.types.is_timestamp(f.type) else f
        for f in schema
    )


def spark_table_output(spark: Any, relation: str) -> Any:
    """A staged spark table as an Arrow stream, read from its parquet files.

    Streaming the files (not `toArrow()`) keeps large tables out of the driver, whose
    collect limit (spark.driver.maxResultSize) a 10M-row feature table exceeds.
    """
    from urllib.parse import unquote, urlparse

    import pyarrow as pa
    import pyarrow.dataset as pds

    table = spark.table(relation)
    files = [unquote(urlparse(f).path) for f in table.inputFiles()]
    if not files:
        empty = table.toArrow()
        return empty.cast(lake_schema(empty.schema))
    dataset = pds.dataset(files, format="parquet")
    target = lake_schema(dataset.schema)
    batches = (b.cast(target) for b in dataset.to_batches())
    return pa.RecordBatchReader.from_batches(target, batches)


def _say(message: str) -> None:
    # stderr: stdout may carry dbt's JSON log lines, which dagster-dbt parses.
    print(f"aurora-dbt: {message}", file=sys.stderr, flush=True)


def run(args: Sequence[str]) -> int:
    """Run dbt with `args` as `dbt` would; returns dbt's exit code (0, 1 or 2)."""
    from dbt.cli.main import dbtRunner

    invocation = parse_invocation(args)
    executing = invocation.command in EXECUTING or invocation.command == "docs generate"
    on_spark = executing and target_type(invocation) == "spark"
    committing = invocation.command in COMMITTING
    if not (on_spark or committing):
        return _exit_code(dbtRunner().invoke(list(args)))

    from aurora_pipelines.settings import get_settings

    settings = get_settings()
    remove_dead_stages(settings.root / "dbt" / "staged")
    # Named for its process, so a later run can tell a killed run's leftovers from a live one.
    stage_dir = settings.root / "dbt" / "staged" / f"{os.getpid()}-{uuid.uuid4().hex}"
    previous_stage = os.environ.get(STAGE_ENV)
    os.environ[STAGE_ENV] = str(stage_dir)
    spark = None
    try:
        manifest = None
        if on_spark:
            from aurora_pipelines.lake.spark import dbt_warehouse_dir, get_spark

            parsed = dbtRunner().invoke(["parse", "--quiet", *invocation.flag(args)])
            manifest = parsed.result if parsed.success else None
            # Stale staging tables of a crashed run would block `create table`.
            shutil.rmtree(dbt_warehouse_dir(settings), ignore_errors=True)
            spark = get_spark(settings, hive=False)
            if manifest is not None:
                register_delta_views(spark, delta_sources(manifest))
            register_watermark_function(spark)
        result = dbtRunner(manifest=manifest).invoke(list(args))
        if committing and result.result is not None and hasattr(result.result, "results"):
            full_refresh = any(a in ("--full-refresh", "-f") for a in args)
            commit_cleared(result.result.results, manifest, stage_dir, spark, full_refresh)
        return _exit_code(result)
    finally:
        shutil.rmtree(stage_dir, ignore_errors=True)
        if previous_stage is None:
            os.environ.pop(STAGE_ENV, None)
        else:
            os.environ[STAGE_ENV] = previous_stage
        if spark is not None:
            from aurora_pipelines.lake.spark import dbt_warehouse_dir, stop_spark

            stop_spark()
            shutil.rmtree(dbt_warehouse_dir(settings), ignore_errors=True)


def remove_dead_stages(staged_root: Path) -> list[Path]:
    """Delete the stage folders of runs that were killed (kill -9, OOM) before their cleanup.

    A killed run commits nothing (its models' outputs are only staged), but its folder stays.
    A folder is dead when the process its name starts with is gone; AURORA_HOME is one
    machine's, so the pid is this host's. Folders of live runs are left alone.
    """
    removed: list[Path] = []
    if not staged_root.is_dir():
        return removed
    for folder in staged_root.iterdir():
        pid, _, rest = folder.name.partition("-")
        if not (pid.isdigit() and rest) or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _exit_code(result: Any) -> int:
    if result.exception is not None and result.result is None:
        return 2
    return 0 if result.success else 1


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
