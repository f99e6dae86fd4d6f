"""Time the credit_default feature build on the duckdb target vs the spark target.

Same raw Delta input, same dbt models, same Delta output (training + scoring feature tables),
each through `aurora-dbt build` in a fresh process, as Dagster runs it. Reported: wall clock
of the whole process (spark includes its JVM start), dbt's own time for the two models, and
the spark / duckdb ratio. Only the section `features` of BENCHMARKS.md is replaced.

Usage: python benchmarks/bench_features.py [--rows 1000000] [--out BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from report import update_section  # noqa: E402

PROJECT = REPO / "dbt_project"
SECTION = "## Feature build: duckdb vs spark target"
MODELS = ("credit_default_features", "credit_default_scoring_features")


def seed(home: Path, rows: int) -> float:
    """Write `rows` raw applications (+ a 10% scoring batch) to Delta; returns seconds."""
    from aurora_pipelines.lake.delta import write_table
    from aurora_pipelines.sources.sample_data import generate_credit_data

    start = time.perf_counter()
    chunk = 1_000_000
    for i, offset in enumerate(range(0, rows, chunk)):
        part = generate_credit_data(min(chunk, rows - offset), seed=100 + i)
        mode = "overwrite" if i == 0 else "append"
        write_table(home / "lake/credit_default/raw", part, mode=mode)
    batch = generate_credit_data(max(1, rows // 10), seed=7).drop(columns="default_flag")
    write_table(home / "lake/credit_default/raw_batch", batch)
    return time.perf_counter() - start


def build(home: Path, target: str) -> tuple[float, float]:
    """(wall seconds of the aurora-dbt process, dbt's seconds for the feature models)."""
    env = {**os.environ, "AURORA_HOME": str(home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.setdefault("AURORA_SPARK_DRIVER_MEMORY", "6g")
    target_path = home / f"target_{target}"
    command = [
        str(Path(sys.executable).parent / "aurora-dbt"), "run", "--target", target,
        "--select", *MODELS, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
        "--target-path", str(target_path), "--log-path", str(home / "logs"),
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{target} build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    return wall, sum(r["execution_time"] for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="aurora_bench_features_"))
    try:
        seconds_seed = seed(home, args.rows)
        duck_wall, duck_dbt = build(home, "duckdb")
        spark_wall, spark_dbt = build(home, "spark")
    finally:
        shutil.rmtree(home, ignore_errors=True)  # gigabytes at 10M rows

    lines = [
        f"Produced by `python benchmarks/bench_features.py --rows {args.rows}` on "
        f"{platform.node()} ({os.cpu_count()} cores, Spark `local[2]`), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. {args.rows:,} raw rows + "
        f"{max(1, args.rows // 10):,} scoring rows in Delta (seeded in {seconds_seed:.0f} s); "
        "`aurora-dbt run` of the training and scoring feature models, each ending in a "
        "Delta commit. Baseline: the duckdb target, same run.",
        "",
        "| target | process wall s | dbt model s | × duckdb (wall) | × duckdb (models) |",
        "|---|---:|---:|---:|---:|",
        f"| duckdb (dbt-duckdb + aurora_delta plugin) | {duck_wall:.1f} | {duck_dbt:.1f} "
        "| 1.00 | 1.00 |",
        f"| spark (dbt-spark session, delta-rs commit) | {spark_wall:.1f} | {spark_dbt:.1f} "
        f"| {spark_wall / duck_wall:.2f} | {spark_dbt / duck_dbt:.2f} |",
    ]
    update_section(args.out, "features", "\n".join([SECTION, "", *lines]))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
