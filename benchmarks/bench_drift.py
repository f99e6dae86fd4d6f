"""Drift speed and driver memory: Aurora on Spark vs Evidently alone on pandas, same run.

Data: a reference and a current batch of N rows x 30 columns (20 numeric, 10 categorical;
missing values; 8 columns shifted in the current batch), written as Parquet in 1M-row files.
- Aurora: tables on local disk of at most 3M rows are binned in this process
  (`local_binning.py`: reference bins from one Arrow read, the window counted batch by batch);
  larger ones on Spark (never collected): `approxQuantile` + one Bucketizer/groupBy pass
  (`build_reference_spark`, once per model), the window's counts in one more pass
  (`count_spark`). Then PSI / KS / chi-squared / JS from counts, and Evidently's preset + HTML
  report on 20k-row samples. Timed: reference, window, report, total (wall and Python CPU);
  the Spark reference and window afterwards in the same process, as the baseline.
- Evidently 0.7 alone: `DataDriftPreset` on the full pandas frames + HTML (load time apart).
Each runs in its own process; peak RSS is sampled for the process tree (Python + local JVM).
Agreement: which columns each calls drifted.

Usage: python benchmarks/bench_drift.py [--rows 1000000] [--scale-rows 3000000,10000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_profiling import run_measured  # noqa: E402
from report import update_section  # noqa: E402

GIB = 1024**3
CHUNK = 1_000_000
NUMERIC, CATEGORICAL = 20, 10
DRIFTED = {"x00", "x03", "x07", "x11", "x15", "c00", "c04", "c08"}


def make_frame(rows: int, seed: int, drift: bool):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data = {}
    for i in range(NUMERIC):
        name = f"x{i:02d}"
        shift = 0.3 if drift and name in DRIFTED else 0.0
        if i % 2:
            values = rng.lognormal(2 + i * 0.05 + shift, 0.5, rows)
        else:
            values = rng.normal(50 + i + shift * 20, 10, rows)
        values[rng.random(rows) < 0.01 * (i % 3)] = np.nan
        data[name] = values
    for i in range(CATEGORICAL):
        name = f"c{i:02d}"
        levels = np.array([f"l{k}" for k in range(3 + 3 * i)], dtype=object)
        p = np.linspace(1, 2, len(levels))
        if drift and name in DRIFTED:
            p = p[::-1] ** 2
        column = levels[rng.choice(len(levels), rows, p=p / p.sum())]
        column[rng.random(rows) < 0.01 * (i % 2)] = None
        data[name] = column
    return pd.DataFrame(data)


def write_parquet(directory: Path, rows: int, seed: int, drift: bool) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for part, start in enumerate(range(0, rows, CHUNK)):
        n = min(CHUNK, rows - start)
        make_frame(n, seed * 1000 + part, drift).to_parquet(directory / f"part-{part:04d}.parquet")


# --- children ---------------------------------------------------------------------------------


def child_aurora(reference: str, current: str) -> None:
    from aurora_pipelines.lake.spark import get_spark
    from aurora_pipelines.monitoring.binning import count_spark
    from aurora_pipelines.monitoring.local_binning import (
        build_reference_arrow,
        count_local,
        read_columns,
        sample_arrow,
        sample_local,
    )
    from aurora_pipelines.monitoring.reference import build_reference_spark
    from aurora_pipelines.monitoring.run_window import bounded_sample, is_small_local
    from aurora_pipelines.monitoring.window import (
        EVIDENTLY_SAMPLE_ROWS,
        evidently_on_samples,
        window_drift,
    )
    from aurora_pipelines.settings import Settings
    from aurora_pipelines.specs import MonitoringSpec

    home = Path(tempfile.mkdtemp(prefix="home-", dir=Path(reference).parent))
    spark = get_spark(Settings(home=home))
    ref, cur = spark.read.parquet(reference), spark.read.parquet(current)
    columns = ref.columns
    spec = MonitoringSpec()
    clock = Clock()
    # What load_or_build_reference / drift_of_window do for local tables: bin them in process
    # when small enough (one read serves the reference bins and its Evidently sample).
    local = is_small_local(reference) and is_small_local(current)
    if local:
        table = read_columns(reference, columns)
        profile = build_reference_arrow(table, columns)
        ref_sample = sample_arrow(table, EVIDENTLY_SAMPLE_ROWS).to_pandas()
        del table
    else:
        profile = build_reference_spark(ref, columns)
        ref_sample = bounded_sample(ref, EVIDENTLY_SAMPLE_ROWS, columns)
    reference_s = clock.lap()
    counts = count_local(current, profile.features) if local else count_spark(cur, profile.features)
    result = window_drift(profile, counts, spec, window="bench")
    window_s = clock.lap()
    cur_sample = (
        sample_local(current, EVIDENTLY_SAMPLE_ROWS, columns)
        if local
        else bounded_sample(cur, EVIDENTLY_SAMPLE_ROWS, columns)
    )
    share = evidently_on_samples(ref_sample, cur_sample, profile, spec, home / "drift.html")
    report_s = clock.lap()
    # Baselines, same process, after the timed path (so the JVM is warm for them, not for us):
    # the reference on Spark (approxQuantile + a bucket pass) and the window's Spark counts.
    on_spark = build_reference_spark(ref, columns)
    spark_reference_s = clock.lap()
    spark_counts = count_spark(cur, on_spark.features)
    spark_window_s = clock.lap()
    spark_result = window_drift(on_spark, spark_counts, spec, window="b")
    print(
        json.dumps(
            {
                "reference_s": reference_s[0],
                "reference_cpu_s": reference_s[1],
                "reference_local": local,
                "spark_reference_s": spark_reference_s[0],
                "spark_window_s": spark_window_s[0],
                "spark_drifted": sorted(spark_result.drifted_columns),
                "window_s": window_s[0],
                "window_cpu_s": window_s[1],
                "report_s": report_s[0],
                "report_cpu_s": report_s[1],
                "total_s": reference_s[0] + window_s[0] + report_s[0],
                "rows": result.rows,
                "drift_share": result.drift_share,
                "evidently_sample_share": share,
                "drifted": sorted(result.drifted_columns),
            }
        )
    )


class Clock:
    """Wall and this Python process's CPU seconds (user+sys) since the last lap. The local
    JVM is another process: Spark's work is not in the CPU figure, only in the wall time."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        out = (wall - self.wall, cpu - self.cpu)
        self.wall, self.cpu = wall, cpu
        return out


def child_evidently(reference: str, current: str) -> None:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    t0 = time.perf_counter()
    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    t1 = time.perf_counter()
    numeric = [c for c in ref.columns if c.startswith("x")]
    categorical = [c for c in ref.columns if c.startswith("c")]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    snapshot.save_html(str(Path(reference).parent / "evidently.html"))
    t2 = time.perf_counter()
    data = snapshot.dict()
    failed = {
        t["metric_config"]["params"].get("column")
        for t in data["tests"]
        if t["id"] == "drift" and str(t["status"]).endswith("FAIL")
    }
    print(
        json.dumps(
            {
                "load_s": t1 - t0,
                "total_s": t2 - t1,
                "rows": len(cur),
                "drifted": sorted(c for c in failed if c),
            }
        )
    )


# --- driver -----------------------------------------------------------------------------------


def measure(engine: str, reference: Path, current: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, __file__, "--child", engine, str(reference), str(current)]
    out, wall, peak = run_measured(argv, env=env)
    out["wall_s"], out["peak_rss_gib"] = wall, peak / GIB
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scale-rows", default="3000000", help="comma-separated, Aurora only")
    parser.add_argument("--child", nargs=3)
    parser.add_argument(
        "--local-reference-only",
        action="store_true",
        help="write only the section comparing the reference built in process and on Spark",
    )
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args()
    if args.child:
        engine, reference, current = args.child
        (child_aurora if engine == "aurora" else child_evidently)(reference, current)
        return

    work = Path(tempfile.mkdtemp(prefix="bench-drift-"))
    results: dict[int, dict] = {}
    sizes = [args.rows, *[int(s) for s in args.scale_rows.split(",") if s]]
    for rows in sizes:
        reference, current = work / f"ref_{rows}", work / f"cur_{rows}"
        t = time.perf_counter()
        write_parquet(reference, rows, seed=1, drift=False)
        write_parquet(current, rows, seed=2, drift=True)
        print(f"{rows:,} rows x 30 written in {time.perf_counter() - t:.0f} s", flush=True)
        results[rows] = {"aurora": measure("aurora", reference, current)}
        print(rows, "aurora", results[rows]["aurora"], flush=True)
        if rows == args.rows:
            results[rows]["evidently"] = measure("evidently", reference, current)
            print(rows, "evidently", results[rows]["evidently"], flush=True)
    if args.local_reference_only:
        write_local_reference_report(args, results)
    else:
        write_report(args, results)


def write_report(args, results: dict[int, dict]) -> None:
    base = results[args.rows]
    a, e = base["aurora"], base["evidently"]
    truth = sorted(DRIFTED)
    lines = [
        "## Drift: Aurora on Spark vs Evidently on pandas (`benchmarks/bench_drift.py`)",
        "",
        f"{args.rows:,} rows x 30 columns (20 numeric, 10 categorical) against a "
        f"{args.rows:,}-row reference; 8 columns shifted ({', '.join(truth)}). Same run, "
        f"each engine in its own process; peak RSS = process tree (Python + local JVM). "
        f"{platform.machine()}, {os.cpu_count()} cores, Spark local[2].",
        "",
        "| engine | compute s | wall s (incl. start) | peak RSS GiB | columns called drifted |",
        "|---|---|---|---|---|",
        f"| Aurora (in-process counts + 20k-row Evidently report) | {a['total_s']:.1f} "
        f"(reference {a['reference_s']:.1f} once per model, window {a['window_s']:.1f}, "
        f"report {a['report_s']:.1f}) | {a['wall_s']:.1f} | {a['peak_rss_gib']:.2f} | "
        f"{', '.join(a['drifted'])} |",
        f"| Evidently 0.7.23 DataDriftPreset on pandas | {e['total_s']:.1f} "
        f"(+ {e['load_s']:.1f} load) | {e['wall_s']:.1f} | {e['peak_rss_gib']:.2f} | "
        f"{', '.join(e['drifted'])} |",
        "",
        f"Ratio (Evidently compute / Aurora compute incl. reference): "
        f"**{e['total_s'] / a['total_s']:.2f}x**; per window with the stored reference: "
        f"**{e['total_s'] / (a['window_s'] + a['report_s']):.2f}x**. Peak RSS ratio "
        f"(Evidently / Aurora): {e['peak_rss_gib'] / a['peak_rss_gib']:.2f}x. "
        f"Aurora's drift share {a['drift_share']:.3f} (8/30 = {8 / 30:.3f} truly shifted).",
        "",
        "How Aurora grows (same shapes, Aurora only):",
        "",
        "| rows | reference s | window s | report s | total s | peak RSS GiB |",
        "|---|---|---|---|---|---|",
    ]
    for rows, r in sorted(results.items()):
        x = r["aurora"]
        lines.append(
            f"| {rows:,} | {x['reference_s']:.1f} | {x['window_s']:.1f} | {x['report_s']:.1f} "
            f"| {x['total_s']:.1f} | {x['peak_rss_gib']:.2f} |"
        )
    lines += [
        "",
        "A local table of up to 3M rows (`LOCAL_MAX_ROWS`) is counted in process "
        "(monitoring/local_binning.py: reference bins from one sort per numeric column, the "
        "window batch by batch with searchsorted/bincount, only the needed columns read); a "
        "remote or larger table goes to Spark, which returns at most features x buckets counts "
        "(30 x 101 here) to the driver, so the Python process never holds the window. Either "
        "way Evidently's HTML report gets two 20k-row samples and draws per-column charts only "
        "for the columns Aurora calls drifted. KS comes from CDFs binned at the reference's "
        "percentiles (exact in process, approxQuantile with 0.1% rank error on Spark), see "
        "monitoring/statistics.py. "
        f"Sizes run: {', '.join(f'{r:,}' for r in sorted(results))} rows "
        "(`--scale-rows 3000000,10000000` adds sizes, Aurora only).",
    ]
    update_section(args.output, "drift", "\n".join(lines))
    print("\n".join(lines))


def write_local_reference_report(args, results: dict[int, dict]) -> None:
    """Section `drift_local_reference`: reference and window in process vs on Spark."""
    a, e = results[args.rows]["aurora"], results[args.rows]["evidently"]
    before = a["spark_reference_s"] + a["spark_window_s"] + a["report_s"]
    lines = [
        "## Drift: reference and window binned in process vs on Spark "
        "(`benchmarks/bench_drift.py`)",
        "",
        f"{args.rows:,} rows x 30 columns (Parquet on local disk), same run, same Aurora "
        "process for both paths (the Spark ones last, on a warm JVM, so the "
        "comparison favours the baseline), Evidently in its own process. CPU = the Python "
        "process's user+sys (the JVM's work is not in it). "
        f"Run on {time.strftime('%Y-%m-%d %H:%M')} UTC, 1-min load average "
        f"{os.getloadavg()[0]:.1f} at the end (2 shared cores).",
        "",
        "| | wall s | Python CPU s |",
        "|---|---:|---:|",
        f"| reference on Spark (`approxQuantile` + bucket pass; before) | "
        f"{a['spark_reference_s']:.1f} | |",
        f"| window counts on Spark (before) | {a['spark_window_s']:.1f} | |",
        f"| reference in process (Arrow read, one sort per column; now) | "
        f"{a['reference_s']:.1f} | {a['reference_cpu_s']:.1f} |",
        f"| window counts in process (Arrow batches, searchsorted/index_in; now) | "
        f"{a['window_s']:.1f} | {a['window_cpu_s']:.1f} |",
        f"| 20k-row Evidently report | {a['report_s']:.1f} | {a['report_cpu_s']:.1f} |",
        f"| Evidently DataDriftPreset on pandas (baseline) | {e['total_s']:.1f} | |",
        "",
        f"Evidently / Aurora incl. reference: **{e['total_s'] / a['total_s']:.2f}x** "
        f"(Spark reference and window, same report: {e['total_s'] / before:.2f}x). "
        "Columns called drifted: in process "
        f"{', '.join(a['drifted'])}; Spark {', '.join(a['spark_drifted'])}; "
        f"Evidently {', '.join(e['drifted'])}. In process only for tables on local disk "
        "of at most `LOCAL_REFERENCE_MAX_ROWS` (3M) rows; larger or remote tables stay on Spark.",
    ]
    update_section(args.output, "drift_local_reference", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
