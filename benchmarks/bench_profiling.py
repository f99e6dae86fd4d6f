"""Profile speed: Aurora vs ydata-profiling (minimal) on one table, and a large Delta table.

1. A 1M x 30 table (12 float, 8 int, 8 string categoricals, 1 boolean, 1 date; missing values)
   written as Parquet. Aurora (Spark full-table aggregates + sampled detail) and ydata-profiling
   4.18 in minimal mode profile the same file, each in its own process (peak RSS of the process
   tree sampled from /proc). ydata-profiling pins numpy/scipy/matplotlib versions older than
   ours, so it runs from its own venv: YDATA_PYTHON=/path/to/venv/bin/python (install
   `ydata-profiling==4.18.4 pyarrow` there); it is never a dependency of Aurora.
   Agreement: per numeric column, mean/std/min/max/missing from both tools.
2. A large Delta table (`--delta-rows`, default 10M x 13 for a quick run; BENCHMARKS.md has
   the issue's 50M) profiled through sampling: wall time and peak RSS of the whole driver
   (Python + the local JVM).

Usage: python benchmarks/bench_profiling.py [--rows 1000000] [--delta-rows 10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from report import update_section  # noqa: E402

GIB = 1024**3


def make_frame(rows: int, seed: int = 7):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data = {}
    for i in range(12):
        values = rng.lognormal(3 + i * 0.1, 0.5 + i * 0.05, rows)
        values[rng.random(rows) < 0.02 * (i % 4)] = np.nan
        data[f"f{i:02d}"] = values
    for i in range(8):
        data[f"n{i:02d}"] = rng.poisson(5 + 3 * i, rows).astype("int64")
    for i in range(8):
        levels = np.array([f"c{i}_{k}" for k in range(3 + 4 * i)], dtype=object)
        column = levels[rng.integers(0, len(levels), rows)]
        column[rng.random(rows) < 0.01 * (i % 3)] = None
        data[f"s{i:02d}"] = column
    data["flag"] = rng.random(rows) < 0.3
    data["day"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), "D")
    return pd.DataFrame(data)


def _tree_rss(pid: int) -> int:
    """RSS in bytes of `pid` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, []))
        try:
            with open(f"/proc/{current}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[dict, float, int]:
    """Run a child that prints one JSON line last; returns (json, wall seconds, peak RSS)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    peak = [0]

    def poll() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.25)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - start
    thread.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1]), wall, peak[0]


# --- children ---------------------------------------------------------------------------------


def child_aurora(path: str, kind: str) -> None:
    from aurora_pipelines.lake import delta
    from aurora_pipelines.lake.spark import get_spark
    from aurora_pipelines.profiling import profile_table
    from aurora_pipelines.settings import Settings

    home = tempfile.mkdtemp(prefix="home-", dir=Path(path).parent)
    t0 = time.perf_counter()
    spark = get_spark(Settings(home=Path(home)))
    spark_start = time.perf_counter() - t0
    df = delta.read_spark(spark, path) if kind == "delta" else spark.read.parquet(path)
    t1 = time.perf_counter()
    profile = profile_table(df)
    seconds = time.perf_counter() - t1
    stats = {
        c.name: {
            "mean": c.mean,
            "std": c.std,
            "min": c.min,
            "max": c.max,
            "missing": c.missing,
            "distinct": c.distinct,
        }
        for c in profile.columns
    }
    print(
        json.dumps(
            {
                "seconds": seconds,
                "spark_start": spark_start,
                "sample": profile.sampling.rows,
                "rows": profile.rows,
                "stats": stats,
            },
            default=str,
        )
    )


YDATA_CHILD = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import pandas as pd
from ydata_profiling import ProfileReport
frame = pd.read_parquet(sys.argv[1])
t = time.perf_counter()
description = ProfileReport(frame, minimal=True, progress_bar=False).get_description()
seconds = time.perf_counter() - t
stats = {}
for name, v in description.variables.items():
    stats[name] = {k: v.get(k) for k in ("mean", "std", "min", "max", "n_missing", "n_distinct")}
print(json.dumps({"seconds": seconds, "stats": stats}, default=str))
"""


# --- driver -----------------------------------------------------------------------------------


def agreement(aurora: dict, ydata: dict) -> list[str]:
    rows = []
    worst = {"mean": 0.0, "std": 0.0, "min": 0.0, "max": 0.0, "missing": 0.0}
    for name, a in aurora.items():
        y = ydata.get(name)
        if not y or a["mean"] is None or y.get("mean") is None:
            continue
        pairs = {
            "mean": (a["mean"], y["mean"]),
            "std": (a["std"], y["std"]),
            "min": (a["min"], y["min"]),
            "max": (a["max"], y["max"]),
            "missing": (a["missing"], y["n_missing"]),
        }
        for stat, (left, right) in pairs.items():
            left, right = float(left), float(right)
            rel = abs(left - right) / max(abs(right), 1e-12) if right or left else 0.0
            worst[stat] = max(worst[stat], rel)
    for stat, rel in worst.items():
        rows.append(f"| {stat} | {rel:.2e} |")
    return rows


def write_delta(path: Path, rows: int, chunk: int = 1_000_000) -> float:
    from deltalake import write_deltalake

    start = time.perf_counter()
    written = 0
    while written < rows:
        n = min(chunk, rows - written)
        frame = make_frame(n, seed=written + 1).iloc[:, :12]
        frame.insert(0, "row_id", range(written, written + n))
        write_deltalake(str(path), frame, mode="append")
        written += n
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--delta-rows", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_aurora(*args.child)
        return

    env = {**os.environ, "PYTHONPATH": str(REPO), "GX_ANALYTICS_ENABLED": "false"}
    env.setdefault("AURORA_SPARK_DRIVER_MEMORY", "4g")
    lines = [
        f"Produced by `python benchmarks/bench_profiling.py` on {platform.node()} "
        f"({os.cpu_count()} cores), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="aurora-bench-") as tmp:
        parquet = Path(tmp) / "wide.parquet"
        make_frame(args.rows).to_parquet(parquet, index=False, coerce_timestamps="us")
        aurora, aurora_wall, aurora_rss = run_measured(
            [sys.executable, __file__, "--child", str(parquet), "parquet"], env
        )
        ydata_python = os.environ.get("YDATA_PYTHON")
        lines += [
            f"## Profile of {args.rows:,} rows × 30 columns: Aurora vs ydata-profiling (minimal)",
            "",
            "| tool | profile seconds | process wall s | peak RSS GiB |",
            "|---|---:|---:|---:|",
            f"| Aurora (Spark `local[2]`, sample {aurora['sample']:,} rows) | "
            f"{aurora['seconds']:.1f} | {aurora_wall:.1f} | {aurora_rss / GIB:.2f} |",
        ]
        if ydata_python:
            ydata, ydata_wall, ydata_rss = run_measured(
                [ydata_python, "-c", YDATA_CHILD, str(parquet)]
            )
            ratio = ydata["seconds"] / aurora["seconds"]
            lines += [
                f"| ydata-profiling 4.18.4 minimal | {ydata['seconds']:.1f} | {ydata_wall:.1f} | "
                f"{ydata_rss / GIB:.2f} |",
                "",
                f"**ydata-profiling time / Aurora time = {ratio:.2f}×** (profile time; target "
                "≥ 10×; below 1 means Aurora is slower); process wall "
                f"time including Spark start ({aurora['spark_start']:.1f} s) and reading: "
                f"{ydata_wall / aurora_wall:.1f}×.",
                "",
                "Agreement on the numeric columns (worst relative difference over columns; "
                "both from the full table):",
                "",
                "| statistic | worst relative difference |",
                "|---|---:|",
                *agreement(aurora["stats"], ydata["stats"]),
            ]
        else:
            lines += ["", "ydata-profiling not run: set YDATA_PYTHON (see the docstring)."]

        delta_path = Path(tmp) / "large_delta"
        generate = write_delta(delta_path, args.delta_rows)
        big, big_wall, big_rss = run_measured(
            [sys.executable, __file__, "--child", str(delta_path), "delta"], env
        )
        lines += [
            "",
            f"## A {args.delta_rows:,}-row × 13-column Delta table, profiled through sampling",
            "",
            f"(Generating it with delta-rs took {generate:.0f} s.)",
            "",
            "| measure | value | target (50M rows) |",
            "|---|---:|---:|",
            f"| profile seconds (full-table pass + sample) | {big['seconds']:.1f} | < 120 |",
            f"| process wall seconds (incl. Spark start) | {big_wall:.1f} | |",
            f"| peak RSS of the driver (Python + JVM) | {big_rss / GIB:.2f} GiB | < 4 GiB |",
            f"| sample rows (Cochran rule) | {big['sample']:,} | |",
        ]
    update_section(args.out, "bench_profiling", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
