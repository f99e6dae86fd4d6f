"""CLI latency as a process: `aurora --help`, `approvals list`, `status`, `deploy rollback`.

One world (a SQLite MLflow registry with two versions of `credit_default`, both production
approved, v2 champion and v1 fallback; a SQLite governance store) and, for every command, fresh
processes of two code trees run interleaved in the same rounds: the baseline tree (`--baseline`,
default the `main` branch exported with `git archive`) and this working tree. Before each
rollback both trees get the same reset (v2 champion, v1 fallback), outside the timing. A third
contender, `python -c "import typer"`, is the floor any typer CLI pays.

Targets (issue 17): `--help`, `approvals list`, `status` under 1 s; `deploy rollback` under 1.5 s.

Usage: python benchmarks/bench_cli.py [--rounds 7] [--baseline main]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.report import update_section  # noqa: E402

MODEL = "credit_default"  # the repository's example experiment: `status` finds its spec
COMMANDS = {
    "aurora --help": ["--help"],
    "aurora approvals list": ["approvals", "list"],
    f"aurora status {MODEL}": ["status", MODEL],
    f"aurora deploy rollback {MODEL}": ["deploy", "rollback", MODEL],
}
TARGET_S = {"aurora --help": 1.0, "aurora approvals list": 1.0, f"aurora status {MODEL}": 1.0}
TARGET_S[f"aurora deploy rollback {MODEL}"] = 1.5


def build_world(root: Path) -> tuple[str, str]:
    """The registry and governance store the commands act on; (tracking URI, governance URL)."""
    from aurora_pipelines.deploy import release
    from tests.factories import approve, governance_store, register_stub_versions

    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    versions = register_stub_versions(tracking_uri, root, MODEL, 2)
    store = governance_store(f"sqlite:///{root / 'gov.db'}")
    for v in versions:
        approve(store, tracking_uri, MODEL, v)
    ctx = release.ReleaseContext(tracking_uri, store, "release_manager_dave", "b", MODEL, MODEL)
    release.promote(ctx, versions[0])
    release.promote(ctx, versions[1])
    url = store.url
    store.dispose()
    return tracking_uri, url


def reset(tracking_uri: str, governance_url: str) -> None:
    """v2 champion, v1 fallback again (not timed), with MLflow's own client."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.set_registered_model_alias(MODEL, "champion", "2")
    client.set_registered_model_alias(MODEL, "fallback", "1")


def export_tree(ref: str, dest: Path) -> Path:
    """`ref` of this repository as a plain directory (the baseline code)."""
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds user+system) of one process. CPU time is what the machine's
    other jobs leave mostly alone; wall time is what the person waits."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline", default="main", help="git ref of the baseline code")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        root = Path(tmp)
        tracking_uri, governance_url = build_world(root / "world")
        base_tree = export_tree(args.baseline, root / "baseline")
        env = {
            **os.environ,
            "AURORA_HOME": str(root / "home"),
            "AURORA_EXPERIMENTS_DIR": str(REPO / "experiments"),
            "AURORA_MLFLOW_TRACKING_URI": tracking_uri,
            "AURORA_GOVERNANCE_URL": governance_url,
            "AURORA_USER": "release_manager_dave",
        }
        trees = {"baseline": base_tree, "candidate": REPO}
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        floor: list[tuple[float, float]] = []
        for n in range(args.rounds):
            print(f"round {n + 1}/{args.rounds}", flush=True)
            floor.append(timed([sys.executable, "-c", "import typer"], env, root))
            for label, cmd in COMMANDS.items():
                for tree_name, tree in trees.items():
                    if cmd[0] == "deploy":
                        reset(tracking_uri, governance_url)
                    argv = [sys.executable, "-m", "aurora_pipelines.cli", *cmd]
                    tree_env = {**env, "PYTHONPATH": str(tree)}
                    times.setdefault((label, tree_name), []).append(timed(argv, tree_env, tree))
    load = os.getloadavg()
    floor_s = statistics.median(w for w, _ in floor)
    floor_cpu = statistics.median(c for _, c in floor)
    lines = [
        "## CLI latency as a process (`benchmarks/bench_cli.py`)",
        "",
        f"Fresh processes, median of {args.rounds} rounds; in every round each command runs on the "
        f"baseline tree (`{args.baseline}`, exported with `git archive`) and on this tree, "
        "interleaved, against the same SQLite MLflow registry and governance store (two "
        f"versions of `{MODEL}`, v2 champion, v1 fallback, reset before every rollback). "
        f'Floor: `python -c "import typer"` = {floor_s:.2f} s wall, {floor_cpu:.2f} s CPU. '
        f"Load average at the end {load[0]:.1f} (1 min) on the shared 2-core machine: wall "
        "times are inflated by the other jobs' contention; CPU time (user + system of the "
        "process) is the steadier measure of the work each command does.",
        "",
        "| command | baseline wall s | this tree wall s | wall ratio | baseline CPU s "
        "| this tree CPU s | CPU ratio | target s (wall) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label in COMMANDS:
        base = [statistics.median(x[i] for x in times[(label, "baseline")]) for i in (0, 1)]
        cand = [statistics.median(x[i] for x in times[(label, "candidate")]) for i in (0, 1)]
        lines.append(
            f"| `{label}` | {base[0]:.2f} | {cand[0]:.2f} | {cand[0] / base[0]:.2f}x | "
            f"{base[1]:.2f} | {cand[1]:.2f} | {cand[1] / base[1]:.2f}x | "
            f"< {TARGET_S[label]:g} |"
        )
    markdown = "\n".join(lines)
    print(markdown)
    update_section(REPO / "BENCHMARKS.md", "cli", markdown)


if __name__ == "__main__":
    main()
