"""Time a clean `aurora demo` per step and per Dagster asset; write the table to BENCHMARKS.md.

Absolute seconds on a noisy 2-core machine say little alone, so every figure is also given
as a ratio to a baseline measured in the same run: fitting one scikit-learn logistic
regression on the same 100k sample rows (the least any ML platform must do).

`--against REV` also times `aurora demo` as a process for the code at git revision REV and for
the working tree, one after the other in the same run, and reports their ratio (a refactor
must not make the demo slower).

Usage: python benchmarks/bench_demo.py [--rows 100000] [--against REV] [--out BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
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


def demo_process_seconds(code: Path, rows: int, batch_rows: int) -> float:
    """Wall time of `aurora demo` run as a process from the code in `code`, in a fresh home."""
    home = Path(tempfile.mkdtemp(prefix="aurora_bench_vs_"))
    env = {
        **os.environ,
        "AURORA_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "PYTHONPATH": str(code),
        "GX_ANALYTICS_ENABLED": "false",
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
    }
    # The dbt manifest is an install step (make install), not part of the demo.
    subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "parse", "--quiet", "--project-dir",
         str(code / "dbt_project"), "--profiles-dir", str(code / "dbt_project")],
        env=env, cwd=code, check=True, capture_output=True,
    )  # fmt: skip
    argv = f"['demo', '--rows', '{rows}', '--batch-rows', '{batch_rows}']"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", f"from aurora_pipelines.cli import main; main({argv})"],
        env=env, cwd=code, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def compare_with(revision: str, rows: int, batch_rows: int, out: Path) -> None:
    """`aurora demo` at `revision` vs the working tree, measured back to back."""
    checkout = Path(tempfile.mkdtemp(prefix="aurora_rev_")) / "code"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(checkout), revision],
                   check=True, capture_output=True)  # fmt: skip
    try:
        before = demo_process_seconds(checkout, rows, batch_rows)
        after = demo_process_seconds(REPO, rows, batch_rows)
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(checkout)],
                       check=False, capture_output=True)  # fmt: skip
    lines = [
        f"`aurora demo --rows {rows} --batch-rows {batch_rows}` as a process, back to back in one "
        f"run (load average {os.getloadavg()[0]:.1f}):",
        "",
        "| code | seconds | ratio |",
        "|---|---:|---:|",
        f"| `{revision}` | {before:.1f} | 1.00 |",
        f"| working tree | {after:.1f} | {after / before:.2f} |",
    ]
    update_section(out, "demo_vs", "\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-rows", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--against", help="also compare with the demo at this git revision")
    args = parser.parse_args()
    if args.against:
        compare_with(args.against, args.rows, args.batch_rows, args.out)
        return

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
