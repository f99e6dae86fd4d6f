"""Where `aurora serve`'s time goes at 8 connections: py-spy samples of the server process.

The model and load generator of bench_serving.py (same registered model, 8 keep-alive
connections, closed loop, one record per request, prediction log on); py-spy 0.4 samples every
thread of the server (idle threads excluded) for the whole load. Each sample is charged to
the first frame, from the leaf outwards, that belongs to one of the categories below (numpy
and pandas frames are charged to their caller), so the table reads "of the server's busy
time, this share was JSON, this share validation, ...".

Usage: python benchmarks/profile_serving.py [--seconds 15] [--no-write]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_serving import (  # noqa: E402
    MODEL,
    free_port,
    load,
    register_model,
    stop,
    wait_ready,
    wrk_load,
)
from benchmarks.report import update_section  # noqa: E402

# (category, path fragments of a frame's file); first match from the leaf outwards wins.
CATEGORIES = [
    ("JSON parse/render (orjson, json)", ("orjson", "json/")),
    ("model: numpy fast path / sklearn", ("serving/fastpath.py", "sklearn/", "serving/models.py")),
    ("input validation (model signature)", ("serving/validation.py", "pydantic")),
    ("routing (champion/challenger choice)", ("serving/router.py", "deploy/routing.py")),
    ("prediction log writer", ("serving/log_writer.py", "serving/prediction_log.py", "deltalake")),
    ("metrics (Prometheus histogram)", ("serving/metrics.py", "prometheus_client")),
    ("scoring service glue", ("serving/scoring.py", "serving/service.py")),
    ("threadpool hand-off (anyio/starlette)", ("anyio", "starlette/concurrency.py")),
    (
        "HTTP + ASGI (uvicorn, h11/httptools, starlette, fastapi)",
        ("uvicorn", "h11", "httptools", "starlette", "fastapi"),
    ),  # fmt: skip
    ("asyncio event loop", ("asyncio",)),
]


def categorize(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):  # leaf first
        for name, fragments in CATEGORIES:
            if any(f in frame for f in fragments):
                return name
    return "other (threading, logging, interpreter)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--gil", action="store_true", help="only samples holding the GIL")
    args = parser.parse_args()
    spy = Path(sys.executable).parent / "py-spy"
    with tempfile.TemporaryDirectory(prefix="profile-serving-") as tmp:
        home = Path(tmp)
        tracking_uri, rows = register_model(home)
        env = {
            **os.environ,
            "AURORA_HOME": str(home / "aurora"),
            "AURORA_MLFLOW_TRACKING_URI": tracking_uri,
            "GX_ANALYTICS_ENABLED": "false",
        }
        port = free_port()
        argv = [sys.executable, "-m", "aurora_pipelines.cli", "serve", "--port", str(port)]
        output = tempfile.TemporaryFile()  # noqa: SIM115 — closed below
        server = subprocess.Popen(
            [*argv, "--experiment", MODEL], env=env, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        raw = home / "samples.txt"
        try:
            wait_ready(port, "/health", server, output)
            path = f"/v1/models/{MODEL}/predict"
            bodies = [json.dumps({"records": [row]}).encode() for row in rows]
            load(port, path, bodies, 2, 3.0)  # warm-up
            spying = subprocess.Popen(
                [str(spy), "record", "--pid", str(server.pid), "--duration",
                 str(int(args.seconds)), "--format", "raw", "--output", str(raw),
                 "--rate", "200", "--nonblocking", *(["--gil"] if args.gil else [])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            if shutil.which("wrk"):  # C load generator: leaves the cores to the server
                result = wrk_load(port, path, bodies, 8, args.seconds)
            else:
                result = load(port, path, bodies, 8, args.seconds)
            spying.wait(timeout=args.seconds + 60)
        finally:
            stop(server)
            output.close()
        counts: collections.Counter[str] = collections.Counter()
        leaves: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for line in raw.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            category = categorize(stack)
            counts[category] += int(n)
            leaves[category][stack.split(";")[-1]] += int(n)
    total = sum(counts.values())
    generator = "wrk" if shutil.which("wrk") else "Python threads"
    lines = [
        "## Where `aurora serve`'s time goes (`benchmarks/profile_serving.py`)",
        "",
        f"py-spy 0.4.3, 200 samples/s of every busy thread of the server"
        f"{' holding the GIL' if args.gil else ''} during {args.seconds:.0f}"
        f" s of 8 connections, closed loop ({generator}; {result['rps']:.0f} req/s, "
        f"p50 {result['p50']:.1f} "
        f"ms, p99 {result['p99']:.1f} ms under a 1-min load average of {os.getloadavg()[0]:.1f}"
        f"); {total:,} samples. Each sample is charged to its innermost frame of a category.",
        "",
        "| where | share of busy samples |",
        "|---|---:|",
    ]
    for name, n in counts.most_common():
        lines.append(f"| {name} | {n / total:.0%} |")
    lines += ["", "Innermost frames of the two largest categories:", ""]
    for name, _ in counts.most_common(2):
        for frame, n in leaves[name].most_common(4):
            lines.append(f"- {name}: `{frame}` {n / total:.0%}")
    markdown = "\n".join(lines)
    print(markdown)
    if not args.no_write:
        section = "serving_profile_gil" if args.gil else "serving_profile"
        update_section(REPO / "BENCHMARKS.md", section, markdown)


if __name__ == "__main__":
    main()
