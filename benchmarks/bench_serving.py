"""Single-record scoring over HTTP on 127.0.0.1: `aurora serve` vs `mlflow models serve`.

Both serve the same registered model version (a logistic-regression credit classifier
trained here on synthetic data) from the same MLflow SQLite registry, one process each, one
after the other, hit by the same load generator in this process: N threads, each with its
own keep-alive connection, each sending one record per request for a fixed time (after a
warm-up). Reported: requests/s, p50 and p99 latency per concurrency level, and the
throughput ratio aurora / mlflow measured in the same run.

Usage: python benchmarks/bench_serving.py [--seconds 10] [--levels 1,8] [--workers 1,2] [--no-write]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.report import update_section  # noqa: E402

MODEL = "credit"
RATE_CONNECTIONS = 8  # open-loop levels spread their rate over this many connections


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def register_model(home: Path) -> tuple[str, list[dict[str, Any]]]:
    """Train and register the model; returns (tracking URI, JSON-ready records)."""
    from aurora_pipelines.registry.mlflow_registry import set_alias
    from aurora_pipelines.sources.sample_data import generate_credit_data
    from benchmarks.credit_model import register_credit_model

    tracking_uri = f"sqlite:///{home / 'mlflow.db'}"
    data = generate_credit_data(2000, seed=5)
    result, registered = register_credit_model(
        data,
        tracking_uri=tracking_uri,
        artifact_root=home / "mlartifacts",
        name=MODEL,
        cv_folds=3,
        seed=11,
        feature_table_version=1,
        tags={},
        training_data=data,
    )
    set_alias(tracking_uri, MODEL, "champion", registered.version)
    rows = json.loads(data[result.feature_columns].head(200).to_json(orient="records"))
    return tracking_uri, rows


def wait_ready(
    port: int, path: str, process: subprocess.Popen, output: Any, timeout: float = 180
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output.seek(0)
            raise RuntimeError(f"server exited: {output.read().decode()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server on port {port} not ready after {timeout} s")


def stop(process: subprocess.Popen) -> None:
    # The server runs in its own session: end its whole group (mlflow forks uvicorn).
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def load(
    port: int,
    path: str,
    bodies: list[bytes],
    concurrency: int,
    seconds: float,
    rate: float | None = None,
) -> dict[str, float]:
    """`concurrency` threads, one request in flight each: closed loop (as fast as answers come),
    or open loop at `rate` requests/s in total, where latency counts from each request's
    scheduled time, so a server that falls behind is charged for the queueing it causes."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    start_gate = threading.Barrier(concurrency + 1)
    until = [0.0]

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        i = k
        start_gate.wait()
        begin = time.perf_counter()
        while time.perf_counter() < until[0]:
            body = bodies[i % len(bodies)]
            t0 = time.perf_counter()
            if rate:
                t0 = begin + i / rate  # this request's slot in the schedule
                if t0 > time.perf_counter():
                    time.sleep(t0 - time.perf_counter())
            i += concurrency
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            latencies[k].append(time.perf_counter() - t0)
            errors[k] += 0 if ok else 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    for thread in threads:
        thread.start()
    until[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    start_gate.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    all_ms = np.array([x for per in latencies for x in per]) * 1000
    return {
        "requests": float(len(all_ms)),
        "rps": len(all_ms) / elapsed,
        "p50": float(np.percentile(all_ms, 50)),
        "p99": float(np.percentile(all_ms, 99)),
        "errors": float(sum(errors)),
    }


def server_buckets(port: int) -> dict[float, float] | None:
    """Cumulative predict-latency histogram of `aurora serve` (its own /metrics), or None."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
    except OSError:
        return None
    buckets = {}
    for line in text.splitlines():
        if line.startswith("aurora_request_latency_seconds_bucket{") and "predict" in line:
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(le)] = float(line.rsplit(" ", 1)[1])
    return buckets or None


def bucket_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """Upper bound (ms) of the histogram bucket holding quantile q of the requests in between."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= q * total:
            return bound * 1000
    return float("inf")


def run_server(
    name: str,
    command: list[str],
    env: dict[str, str],
    port: int,
    ready_path: str,
    predict_path: str,
    bodies: list[bytes],
    levels: list[int],
    rates: list[float],
    seconds: float,
    server_metrics: bool = False,
) -> dict[str, dict[str, float]]:
    # Output to a file, never an unread pipe: a full pipe buffer blocks the server's logging.
    output = tempfile.TemporaryFile()  # noqa: SIM115 — closed in the finally below
    process = subprocess.Popen(
        command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_ready(port, ready_path, process, output)
        warm = load(port, predict_path, bodies, 2, min(3.0, seconds))  # warm-up
        results = {"warm-up": warm}
        runs = [(f"{c} conn., closed loop", c, None) for c in levels]
        runs += [
            (f"{RATE_CONNECTIONS} conn., {r:.0f} req/s offered", RATE_CONNECTIONS, r) for r in rates
        ]
        for label, connections, rate in runs:
            before = server_buckets(port) if server_metrics else None
            results[label] = load(port, predict_path, bodies, connections, seconds, rate)
            after = server_buckets(port) if server_metrics else None
            r = results[label]
            if before and after:  # aurora serve: its own view, without client/queue time
                r["server_p50"] = bucket_quantile(before, after, 0.50)
                r["server_p99"] = bucket_quantile(before, after, 0.99)
            print(
                f"{name:>14} {label}: {r['rps']:7.1f} req/s  p50 {r['p50']:6.2f} ms  "
                f"p99 {r['p99']:7.2f} ms  errors {int(r['errors'])}",
                flush=True,
            )
        return results
    finally:
        stop(process)  # SIGTERM: aurora flushes its prediction log before exiting
        output.close()


def count_log_rows(aurora_home: Path) -> int:
    from deltalake import DeltaTable

    path = aurora_home / "lake" / MODEL / "serve" / "prediction_log"
    return DeltaTable(str(path)).to_pyarrow_table(columns=["request_id"]).num_rows


def writer_cpu(rows: int = 10_000, rounds: int = 5) -> tuple[float, float]:
    """CPU s to build `rows` single-record log rows and turn them into an Arrow table: the
    dict rows + `from_pylist` the writer used before vs the tuple rows it uses now."""
    from datetime import UTC, datetime

    import orjson
    import pyarrow as pa

    from aurora_pipelines.serving.log_writer import rows_to_table, to_micros
    from aurora_pipelines.serving.prediction_log import PREDICTION_LOG_SCHEMA

    record = {f"f{i}": float(i) for i in range(16)}
    ts = datetime.now(UTC)

    def before() -> None:
        batch = [
            {
                "request_id": f"r{i}", "record_index": 0, "entity_id": None,
                "experiment": MODEL, "model_name": MODEL, "model_version": "1",
                "role": "champion", "served": True, "status": "ok", "error": None,
                "score": 0.5, "prediction": 1.0, "latency_ms": 0.3,
                "inputs": orjson.dumps(record).decode(), "ts": ts,
                "date": ts.strftime("%Y-%m-%d"),
            }
            for i in range(rows)
        ]  # fmt: skip
        pa.Table.from_pylist(batch, schema=PREDICTION_LOG_SCHEMA)

    def after() -> None:
        batch = [
            (
                f"r{i}", 0, None, MODEL, MODEL, "1", "champion", True, "ok", None, 0.5, 1.0,
                0.3, orjson.dumps(record).decode(), to_micros(ts), ts.strftime("%Y-%m-%d"),
            )
            for i in range(rows)
        ]  # fmt: skip
        rows_to_table(batch)

    def cpu(fn: Any) -> float:
        t0 = time.process_time()
        fn()
        return time.process_time() - t0

    timings = {before: [], after: []}
    for _ in range(rounds):
        for fn in (before, after):
            timings[fn].append(cpu(fn))
    return float(np.median(timings[before])), float(np.median(timings[after]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--levels", default="1,8", help="closed-loop connection counts")
    parser.add_argument("--rates", default="50,200", help="open-loop offered requests/s")
    parser.add_argument("--workers", default="1,2", help="`aurora serve --workers` values to run")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load_at_start = os.getloadavg()[0]
    levels = [int(x) for x in args.levels.split(",")]
    rates = [float(x) for x in args.rates.split(",") if x]

    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        home = Path(tmp)
        tracking_uri, rows = register_model(home)
        bin_dir = str(Path(sys.executable).parent)
        env = {
            **os.environ,
            "AURORA_HOME": str(home / "aurora"),
            "AURORA_MLFLOW_TRACKING_URI": tracking_uri,
            "MLFLOW_TRACKING_URI": tracking_uri,
            "GX_ANALYTICS_ENABLED": "false",
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
        }
        mlflow_port = free_port()
        auroras: dict[int, dict[str, dict[str, float]]] = {}
        log_rows: dict[int, tuple[int, int]] = {}  # workers -> (rows in the log, answered)
        for workers in [int(x) for x in args.workers.split(",")]:
            aurora_port = free_port()
            aurora_home = home / f"aurora-{workers}w"
            auroras[workers] = run_server(
                f"aurora serve x{workers}",
                [
                    sys.executable,
                    "-m",
                    "aurora_pipelines.cli",
                    "serve",
                    "--port",
                    str(aurora_port),
                    "--experiment",
                    MODEL,
                    "--workers",
                    str(workers),
                ],
                {**env, "AURORA_HOME": str(aurora_home)},
                aurora_port,
                "/health",
                f"/v1/models/{MODEL}/predict",
                [json.dumps({"records": [row]}).encode() for row in rows],
                levels,
                rates,
                args.seconds,
                server_metrics=workers == 1,  # /metrics is per worker process
            )
            log_rows[workers] = (
                count_log_rows(aurora_home),
                int(sum(r["requests"] - r["errors"] for r in auroras[workers].values())),
            )
        mlflow = run_server(
            "mlflow serve",
            [
                str(Path(bin_dir) / "mlflow"),
                "models",
                "serve",
                "-m",
                f"models:/{MODEL}@champion",
                "--env-manager",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(mlflow_port),
            ],
            env,
            mlflow_port,
            "/ping",
            "/invocations",
            [json.dumps({"dataframe_records": [row]}).encode() for row in rows],
            levels,
            rates,
            args.seconds,
        )

    lines = [
        "## Scoring service (`benchmarks/bench_serving.py`)",
        "",
        "Single-record requests on 127.0.0.1 against the same registered model (logistic "
        "regression, 16 input fields), one server process each, same load generator "
        "(threads with keep-alive connections, in the benchmark process), "
        f"{args.seconds:.0f} s per level after a warm-up, same run. `aurora serve` also "
        "writes every prediction to the Delta prediction log. "
        f"Run on {time.strftime('%Y-%m-%d')} (2 cores shared with other jobs; 1-min load "
        f"average {load_at_start:.1f} at start).",
        "",
        "Closed loop: each connection sends its next request when the answer comes "
        "(throughput). Open loop: requests at a fixed offered rate; latency counts from the "
        "scheduled send time, so queueing in an overloaded server shows. Server p99: the "
        "upper bound of the `/metrics` latency-histogram bucket holding aurora's own 99th "
        "percentile (request body in to response out, no client or socket time).",
        "",
        "| server | load | requests/s | p50 ms | p99 ms | server p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    contenders = [(f"`aurora serve --workers {w}`", r) for w, r in auroras.items()]
    for name, results in [*contenders, ("`mlflow models serve`", mlflow)]:
        for label, r in results.items():
            if label == "warm-up":
                continue
            server = f"<= {r['server_p99']:g}" if "server_p99" in r else "—"
            lines.append(
                f"| {name} | {label} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                f"{server} | {int(r['errors'])} |"
            )
    lines.append("")
    for workers, aurora in auroras.items():
        for label in aurora:
            if label == "warm-up":
                continue
            if "closed" in label:
                ratio = aurora[label]["rps"] / mlflow[label]["rps"]
                lines.append(
                    f"- {workers} worker(s), {label}: aurora/mlflow throughput **{ratio:.1f}x**, "
                    f"p99 {aurora[label]['p99']:.1f} ms vs {mlflow[label]['p99']:.1f} ms."
                )
            else:
                lines.append(
                    f"- {workers} worker(s), {label}: p99 aurora **{aurora[label]['p99']:.1f} ms**"
                    f" vs mlflow {mlflow[label]['p99']:.1f} ms."
                )
        logged, answered = log_rows[workers]
        lines.append(
            f"- {workers} worker(s): prediction log holds {logged:,} rows for {answered:,} "
            "answered requests after SIGTERM."
        )
    old_s, new_s = writer_cpu()
    lines.append(
        f"- Log rows, request path + writer thread, CPU per 10,000 single-record rows (median "
        f"of 5, same run): dict rows + `pa.Table.from_pylist` (before) {old_s * 1000:.0f} ms, "
        f"tuple rows + one `zip(*rows)` (now) {new_s * 1000:.0f} ms: **{old_s / new_s:.1f}x** "
        "less."
    )
    lines.append(
        "- Targets (issue 17): >= 10x mlflow's throughput and p99 <= 10 ms at 8 connections, "
        "prediction log on. Server p99 (from `/metrics`) only for one worker: each worker "
        "process has its own metrics."
    )
    markdown = "\n".join(lines)
    print(markdown)
    if not args.no_write:
        update_section(REPO / "BENCHMARKS.md", "serving", markdown)


if __name__ == "__main__":
    main()
