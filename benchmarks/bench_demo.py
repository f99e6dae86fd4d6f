"""Time a clean `aurora demo` per step and per Dagster asset; write the table to BENCHMARKS.md.

Absolute seconds on a noisy 2-core machine say little alone, so every figure is also given
as a ratio to a baseline measured in the same run: fitting one scikit-learn logistic
regression on the same 100k sample rows (the least any ML platform must do).

Usage: python benchmarks/bench_demo.py [--rows 100000] [--out BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from report import update_section  # noqa: E402

TARGET_SECONDS = 180.0


def baseline_seconds(rows: int) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from aurora_pipelines.sources.sample_data import generate_credit_data

    frame = generate_credit_data(rows, seed=42)
    numeric = frame.select_dtypes("number").drop(columns=["default_flag"]).fillna(0)
    start = time.perf_counter()
    make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        numeric, frame["default_flag"]
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-rows", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="aurora_bench_"))
    os.environ["AURORA_HOME"] = str(home)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    from rich.console import Console

    from aurora_pipelines.commands.demo import run_demo
    from aurora_pipelines.defs.runner import instance_for
    from aurora_pipelines.settings import get_settings

    settings = get_settings()
    base = baseline_seconds(args.rows)
    start = time.perf_counter()
    watch = run_demo(
        settings, rows=args.rows, batch_rows=args.batch_rows, console=Console(quiet=True)
    )
    total = time.perf_counter() - start

    instance = instance_for(settings)
    asset_times: dict[str, float] = {}
    for run in instance.get_runs():
        for step in instance.get_run_step_stats(run.run_id):
            if step.start_time and step.end_time:
                asset_times[step.step_key] = asset_times.get(step.step_key, 0.0) + (
                    step.end_time - step.start_time
                )

    lines = [
        f"Produced by `python benchmarks/bench_demo.py` on {platform.node()} "
        f"({os.cpu_count()} cores, Python {sys.version.split()[0]}), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "## Clean `aurora demo` (install excluded)",
        "",
        f"{args.rows:,} training rows, {args.batch_rows:,} drifted batch rows. Baseline: one "
        f"scikit-learn logistic regression fit on the same rows = {base:.2f} s.",
        "",
        f"**Total: {total:.1f} s** — target ≤ {TARGET_SECONDS:.0f} s → "
        f"{total / TARGET_SECONDS:.2f}× the target; {total / base:.0f}× the baseline.",
        "",
        "| demo step | seconds | × baseline |",
        "|---|---:|---:|",
        *(f"| {label} | {sec:.1f} | {sec / base:.0f} |" for label, sec in watch.steps),
        "",
        "## Time per Dagster step (summed over the demo's runs)",
        "",
        "| step | seconds | share of total |",
        "|---|---:|---:|",
        *(
            f"| `{key}` | {sec:.1f} | {sec / total:.0%} |"
            for key, sec in sorted(asset_times.items(), key=lambda kv: -kv[1])
        ),
        "",
    ]
    update_section(args.out, "demo", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
