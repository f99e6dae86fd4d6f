"""The cluster profile: batch scoring and drift on a Spark standalone cluster with 1 vs 2 workers.

For each worker count the script starts a master and N workers (deploy/cluster/stack.py
--spark-only, 1 core each), then one fresh driver process per workload that connects to it:

- batch scoring: Aurora's path (`serving.batch.score_day` + `write_day`: mapInPandas on the
  executors, the digest-verified model in each Python worker) over an N-row Delta table;
- drift: the Spark reference profile + one window's binned counts (`monitoring.binning`).

Reported: seconds per workload after the session started, rows/s, and the scaling ratio
(1 worker / 2 workers; 2.0 is linear). The 2-core machine is shared, so 2 workers of one core
each is the most it can show. Only the `cluster` section of BENCHMARKS.md is replaced.

`--lifecycle` instead measures the whole lifecycle (seed 6,000 rows, lifecycle run, staging
approval, promotion, production approval, promotion) on the cluster stack (the cluster
end-to-end test's promotion path: the daemon runs everything) and then on the embedded default
(the CLI, in process, trust_env demo policy), in one run with the same specs (the stack's
`--small-training` copies) and rows; the stack's start-up is reported apart.

Usage: python benchmarks/bench_cluster.py [--rows 1000000,10000000] [--out BENCHMARKS.md]
       python benchmarks/bench_cluster.py --lifecycle
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_batch_scoring import DAY, MODEL, prepare, tracking_uri  # noqa: E402
from report import update_section  # noqa: E402

SECTION = "cluster"
STACK = REPO / "deploy" / "cluster" / "stack.py"


def busy_cores_since(before: tuple[float, float]) -> float:
    """Cores the whole machine kept busy (any process) since `before` = machine_cpu()."""
    busy, at = machine_cpu()
    return (busy - before[0]) / (at - before[1])


def machine_cpu() -> tuple[float, float]:
    """(CPU seconds the machine spent busy since boot, now): /proc/stat's first line."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK"), time.monotonic()


def child(home: str, version: str, master: str, workload: str) -> None:
    from aurora_pipelines.lake import delta
    from aurora_pipelines.lake.spark import get_spark
    from aurora_pipelines.settings import Settings
    from aurora_pipelines.sources.sample_data import ID_COLUMN

    root = Path(home)
    # Embedded Derby per driver is enough here: one driver at a time, no Dagster.
    spark = get_spark(Settings(home=root / f"driver_{workload}", spark_master=master))
    start, cpu = time.perf_counter(), machine_cpu()
    batch = delta.read_spark(spark, root / "input")
    if workload == "scoring":
        from aurora_pipelines.registry.model_version import load_model_version
        from aurora_pipelines.serving.batch import ScoringModel, score_day, write_day

        handle = load_model_version(tracking_uri(root), MODEL, version)
        scored = score_day(
            batch, [ScoringModel("champion", handle)], day=DAY, time_column=None,
            id_column=ID_COLUMN,
        )  # fmt: skip
        write_day(scored, str(root / f"scores_{os.getpid()}"), DAY)
        rows = batch.count()
    else:
        from aurora_pipelines.monitoring.binning import count_spark
        from aurora_pipelines.monitoring.reference import build_reference_spark
        from aurora_pipelines.monitoring.window import window_drift
        from aurora_pipelines.specs import MonitoringSpec

        columns = [c for c in batch.columns if c != ID_COLUMN]
        half = batch.randomSplit([0.5, 0.5], seed=1)
        profile = build_reference_spark(half[0], columns)
        window_drift(
            profile, count_spark(half[1], profile.features), MonitoringSpec(), window="bench"
        )
        rows = None
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rows": rows, "busy_cores": busy_cores_since(cpu)}))


def run_child(home: Path, version: str, master: str, workload: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("AURORA_METASTORE_URL", None)
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(home), version, master, workload],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{workload} on {master} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def with_spark(workers: int, state: Path, fn):
    subprocess.run(
        [sys.executable, str(STACK), "up", "--state", str(state), "--spark-only",
         "--workers", str(workers), "--worker-cores", "1", "--worker-memory", "2g"],
        check=True,
    )  # fmt: skip
    try:
        master = json.loads((state / "stack.json").read_text())["spark_master"]
        return fn(master)
    finally:
        subprocess.run([sys.executable, str(STACK), "down", "--state", str(state)], check=False)


def aurora(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "aurora_pipelines.cli", *args], env=env, cwd=REPO,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"aurora {' '.join(args)}: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def embedded_lifecycle(home: Path, experiments: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "DAGSTER_"))}
    env.update(AURORA_HOME=str(home), DAGSTER_HOME=str(home / "dagster"), PYTHONPATH=str(REPO))
    env["AURORA_EXPERIMENTS_DIR"] = str(experiments)
    start = time.perf_counter()
    aurora(env, "seed", "--rows", "6000", "--batch-rows", "2000", "--seed", "7", "--no-batch-drift")
    aurora({**env, "AURORA_USER": "ds_alice"}, "run", "credit_default")
    for approver in ("validator_bob", "mrm_carol"):
        pending = json.loads(aurora(env, "approvals", "list", "--json"))
        request = next(r for r in pending if r["status"] == "pending")
        aurora({**env, "AURORA_USER": approver}, "approvals", "approve", str(request["id"]),
               "--comment", "bench")  # fmt: skip
        aurora({**env, "AURORA_USER": "ds_alice"}, "run", "credit_default")
    return time.perf_counter() - start


def cluster_lifecycle(state: Path) -> tuple[float, float]:
    start = time.perf_counter()
    subprocess.run([sys.executable, str(STACK), "up", "--state", str(state),
                    "--name", "aurora_bench_cluster", "--small-training"], check=True)  # fmt: skip
    up = time.perf_counter() - start
    try:
        start = time.perf_counter()
        # The promotion path only (the embedded side has no drift loop to compare with).
        test = "test_promotions_are_launched_by_the_approval_sensor_and_run_by_the_daemon"
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-m", "cluster", "-p", "no:cacheprovider",
             f"{REPO / 'tests' / 'e2e' / 'test_cluster_lifecycle.py'}::{test}"],
            env={**os.environ, "AURORA_CLUSTER_STATE": str(state)}, cwd=REPO, check=True,
        )  # fmt: skip
        return up, time.perf_counter() - start
    finally:
        subprocess.run([sys.executable, str(STACK), "down", "--state", str(state)], check=False)


def lifecycle(out: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-lifecycle-"))
    up, cluster = cluster_lifecycle(root / "cluster")
    # After the stack is down (no load of its own), on the specs the stack ran.
    embedded = embedded_lifecycle(root / "embedded", root / "cluster" / "experiments")
    lines = [
        "## Cluster profile: lifecycle wall time vs the embedded profile "
        "(`benchmarks/bench_cluster.py --lifecycle`)",
        "",
        f"`python benchmarks/bench_cluster.py --lifecycle` on {platform.machine()}, "
        f"{os.cpu_count()} cores (shared), {time.strftime('%Y-%m-%d')}; seed 6,000 rows through "
        "production, both approvals, the small training budget (`stack.py --small-training`).",
        "",
        "| profile | lifecycle (s) | ratio |",
        "|---|---:|---:|",
        f"| embedded (CLI, in process) | {embedded:.0f} | 1.00x |",
        f"| cluster (daemon-run, standalone Spark, MLflow server, S3) | {cluster:.0f} | "
        f"{cluster / embedded:.2f}x |",
        "",
        f"Stack start-up (not in the figure): {up:.0f} s.",
    ]
    update_section(out, "cluster_lifecycle", "\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="1000000,10000000")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--child", nargs=4)
    parser.add_argument("--lifecycle", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.lifecycle:
        lifecycle(args.out)
        return
    results: list[dict] = []
    for rows in [int(r) for r in args.rows.split(",")]:
        home = Path(tempfile.mkdtemp(prefix=f"bench-cluster-{rows}-"))
        version, _ = prepare(home, rows)
        for workers in (1, 2):
            state = home / f"stack_{workers}"

            def measure(master: str, home=home, version=version) -> dict:
                return {w: run_child(home, version, master, w) for w in ("scoring", "drift")}

            measured = with_spark(workers, state, measure)
            for workload, m in measured.items():
                results.append({**m, "rows": rows, "workers": workers, "workload": workload})
                print(rows, workers, workload, round(m["seconds"], 1), flush=True)
    lines = [
        "## Cluster profile: 1 vs 2 Spark standalone workers (`benchmarks/bench_cluster.py`)",
        "",
        f"`python benchmarks/bench_cluster.py --rows {args.rows}` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Spark standalone with 1-core workers (2 GiB each), "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; 1-min load average "
        f"{os.getloadavg()[0]:.1f} at the end. Seconds after the driver's session started "
        "(read Delta + work + write); busy cores = CPU the whole machine spent (every "
        "process: driver, executors, their Python workers) per second of that time.",
        "",
        "| rows | workload | 1 worker (s) | 2 workers (s) | scaling (1w/2w) | rows/s (2w) "
        "| busy cores 1w / 2w |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for rows in sorted({r["rows"] for r in results}):
        for workload in ("scoring", "drift"):
            mine = [r for r in results if r["rows"] == rows and r["workload"] == workload]
            by = {r["workers"]: r for r in mine}
            one, two = by[1]["seconds"], by[2]["seconds"]
            lines.append(
                f"| {rows:,} | {workload} | {one:.1f} | {two:.1f} | {one / two:.2f}x | "
                f"{rows / two:,.0f} | {by[1]['busy_cores']:.2f} / {by[2]['busy_cores']:.2f} |"
            )
    update_section(args.out, SECTION, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
