"""Single-record scoring over HTTP on 127.0.0.1: `aurora serve` vs `mlflow models serve`.

Both serve the same registered model version (a logistic-regression credit classifier
trained here on synthetic data) from the same MLflow SQLite registry, one process each, one
after the other, hit by the same load generator in this process: N threads, each with its
own keep-alive connection, each sending one record per request for a fixed time (after a
warm-up). Reported: requests/s, p50 and p99 latency per concurrency level, and the
throughput ratio aurora / mlflow measured in the same run.

Closed-loop levels use wrk when it is installed (`apt-get install wrk`): a C load generator
in its own process takes far less CPU than the server, so it does not starve it on 2 cores.
`--soak` runs issue 19's measure instead: 200 clients for 60 s, errors, p50/p99, and the
prediction log's rows against the answered records (section `serving_soak`).

Usage: python benchmarks/bench_serving.py [--seconds 10] [--levels 1,8] [--workers 1,2]
       [--generator wrk|python] [--soak [--soak-clients 200] [--soak-seconds 60]] [--no-write]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
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
    keep: bool = False,
) -> dict[str, Any]:
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
        **({"latencies_ms": all_ms} if keep else {}),
        "requests": float(len(all_ms)),
        "rps": len(all_ms) / elapsed,
        "p50": float(np.percentile(all_ms, 50)),
        "p99": float(np.percentile(all_ms, 99)),
        "errors": float(sum(errors)),
    }


WRK_SCRIPT = """
bodies = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", "%s", {["Content-Type"] = "application/json"},
                    bodies[(counter %% #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK {\\"requests\\": %%d, \\"errors\\": %%d, \\"duration_us\\": %%d, " ..
    "\\"p50_us\\": %%d, \\"p99_us\\": %%d}\\n",
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
"""


def wrk_load(
    port: int, path: str, bodies: list[bytes], connections: int, seconds: float
) -> dict[str, float]:
    """Closed loop with wrk (C, epoll, one thread): the load generator takes a fraction of the
    CPU the server takes, so on 2 shared cores it does not starve the server it measures."""
    lua_bodies = ",".join(f"[==[{b.decode()}]==]" for b in bodies)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (lua_bodies, path))
    try:
        result = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "30s",
             "-s", script.name, f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, check=True, timeout=seconds + 120,
        )  # fmt: skip
    finally:
        os.unlink(script.name)
    line = next(x for x in result.stdout.splitlines() if x.startswith("WRK "))
    r = json.loads(line[4:])
    return {
        "requests": float(r["requests"]),
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "p50": r["p50_us"] / 1000,
        "p99": r["p99_us"] / 1000,
        "errors": float(r["errors"]),
    }


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of every live process in a process group, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group id
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


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
    generator: str = "wrk",
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
            cpu_before = group_cpu(process.pid)
            if rate is None and generator == "wrk":
                results[label] = wrk_load(port, predict_path, bodies, connections, seconds)
            else:  # wrk has no fixed-rate mode (wrk2 is not packaged): the Python generator
                results[label] = load(port, predict_path, bodies, connections, seconds, rate)
            r = results[label]
            r["cpu_ms"] = (group_cpu(process.pid) - cpu_before) * 1000 / max(r["requests"], 1)
            after = server_buckets(port) if server_metrics else None
            if before and after:  # aurora serve: its own view, without client/queue time
                r["server_p50"] = bucket_quantile(before, after, 0.50)
                r["server_p99"] = bucket_quantile(before, after, 0.99)
            print(
                f"{name:>14} {label}: {r['rps']:7.1f} req/s  p50 {r['p50']:6.2f} ms  "
                f"p99 {r['p99']:7.2f} ms  errors {int(r['errors'])}  "
                f"server CPU {r['cpu_ms']:.2f} ms/req",
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


def soak(
    env: dict[str, str], home: Path, bodies: list[bytes], workers: int, clients: int, seconds: float
) -> dict[str, float]:
    """Issue 19's soak: `clients` concurrent keep-alive clients for `seconds`, then SIGTERM;
    the prediction log must then hold one row per answered record. The clients run in
    separate processes (a Python generator, not wrk: each client finishes the request it has
    in flight, so the client-side count of answers is exact and comparable with the log)."""
    from concurrent.futures import ProcessPoolExecutor

    port = free_port()
    aurora_home = home / f"aurora-soak-{workers}w"
    command = [
        sys.executable, "-m", "aurora_pipelines.cli", "serve", "--port", str(port),
        "--experiment", MODEL, "--workers", str(workers),
    ]  # fmt: skip
    output = tempfile.TemporaryFile()  # noqa: SIM115 — closed in the finally below
    process = subprocess.Popen(
        command,
        env={**env, "AURORA_HOME": str(aurora_home)},
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    path = f"/v1/models/{MODEL}/predict"
    try:
        wait_ready(port, "/health", process, output)
        warm = load(port, path, bodies, 2, 2.0)  # warm-up: logged too, counted below
        procs = 2
        cpu_before = group_cpu(process.pid)
        with ProcessPoolExecutor(procs) as pool:
            parts = list(
                pool.map(
                    load,
                    [port] * procs,
                    [path] * procs,
                    [bodies] * procs,
                    [clients // procs] * procs,
                    [seconds] * procs,
                    [None] * procs,
                    [True] * procs,
                )
            )
        cpu = group_cpu(process.pid) - cpu_before
    finally:
        stop(process)
        output.close()
    requests = sum(p["requests"] for p in parts)
    errors = sum(p["errors"] for p in parts)
    all_ms = np.concatenate([p["latencies_ms"] for p in parts])
    result = {
        "requests": requests,
        "errors": errors,
        "rps": sum(p["rps"] for p in parts),
        "p50": float(np.percentile(all_ms, 50)),
        "p99": float(np.percentile(all_ms, 99)),
        "cpu_ms": cpu * 1000 / max(requests, 1),
        "log_rows": float(count_log_rows(aurora_home)),
    }
    # The warm-up's answers are in the log too.
    result["answered"] = requests - errors + warm["requests"] - warm["errors"]
    return result


def write_soak(args: argparse.Namespace, r: dict[str, Any], load_at_start: float) -> None:
    ok = r["errors"] == 0 and r["log_rows"] == r["answered"]
    lines = [
        f"## Scoring service soak: {args.soak_clients} concurrent clients "
        "(`bench_serving.py --soak`, issue 19)",
        "",
        f"`aurora serve --workers {args.soak_workers}`, {args.soak_clients} concurrent "
        f"keep-alive clients (Python threads in 2 processes of their own, one single-record "
        f"request in flight each, closed loop) for {args.soak_seconds:.0f} s after a 2 s "
        "warm-up, prediction log on; then SIGTERM and a count of the Delta prediction log. "
        f"Run on {time.strftime('%Y-%m-%d')} (2 cores shared with other jobs; 1-min load "
        f"average {load_at_start:.1f} at start).",
        "",
        "| requests | errors | requests/s | p50 ms | p99 ms | server CPU ms/req "
        "| log rows | answered records (incl. warm-up) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {int(r['requests']):,} | {int(r['errors'])} | {r['rps']:.0f} | {r['p50']:.1f} | "
        f"{r['p99']:.1f} | {r['cpu_ms']:.2f} | {int(r['log_rows']):,} | {int(r['answered']):,} |",
        "",
        f"- Errors must be 0 and log rows equal answered records: **{'yes' if ok else 'NO'}**.",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    if not args.no_write:
        update_section(REPO / "BENCHMARKS.md", "serving_soak", markdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--levels", default="1,8", help="closed-loop connection counts")
    parser.add_argument("--rates", default="50,200", help="open-loop offered requests/s")
    parser.add_argument("--workers", default="1,2", help="`aurora serve --workers` values to run")
    parser.add_argument(
        "--generator",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="closed-loop load generator (fixed rates always use the Python one)",
    )
    parser.add_argument(
        "--soak", action="store_true", help="run issue 19's soak instead (section serving_soak)"
    )
    parser.add_argument("--soak-clients", type=int, default=200)
    parser.add_argument("--soak-seconds", type=float, default=60.0)
    parser.add_argument("--soak-workers", type=int, default=2)
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
        if args.soak:
            bodies = [json.dumps({"records": [row]}).encode() for row in rows]
            r = soak(env, home, bodies, args.soak_workers, args.soak_clients, args.soak_seconds)
            write_soak(args, r, load_at_start)
            return
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
                generator=args.generator,
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
            generator=args.generator,
        )

    generator = (
        "wrk (C, epoll, 1 thread, own process) for closed loop; a Python generator (threads "
        "with keep-alive connections, in the benchmark process) for fixed offered rates"
        if args.generator == "wrk"
        else "threads with keep-alive connections, in the benchmark process"
    )
    lines = [
        "## Scoring service (`benchmarks/bench_serving.py`)",
        "",
        "Single-record requests on 127.0.0.1 against the same registered model (logistic "
        "regression, 16 input fields), one server process each, same load generator for "
        f"both servers ({generator}), "
        f"{args.seconds:.0f} s per level after a warm-up, same run. `aurora serve` also "
        "writes every prediction to the Delta prediction log. "
        f"Run on {time.strftime('%Y-%m-%d')} (2 cores shared with other jobs; 1-min load "
        f"average {load_at_start:.1f} at start).",
        "",
        "Closed loop: each connection sends its next request when the answer comes "
        "(throughput). Open loop: requests at a fixed offered rate; latency counts from the "
        "scheduled send time, so queueing in an overloaded server shows. Server p99: the "
        "upper bound of the `/metrics` latency-histogram bucket holding aurora's own 99th "
        "percentile (request body in to response out, no client or socket time). Server CPU: "
        "user + system time of the server's processes during the level, per request (the "
        "steadier measure on a loaded machine).",
        "",
        "| server | load | requests/s | p50 ms | p99 ms | server p99 ms | server CPU ms/req "
        "| errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    contenders = [(f"`aurora serve --workers {w}`", r) for w, r in auroras.items()]
    for name, results in [*contenders, ("`mlflow models serve`", mlflow)]:
        for label, r in results.items():
            if label == "warm-up":
                continue
            server = f"<= {r['server_p99']:g}" if "server_p99" in r else "—"
            lines.append(
                f"| {name} | {label} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                f"{server} | {r['cpu_ms']:.2f} | {int(r['errors'])} |"
            )
    lines.append("")
    for workers, aurora in auroras.items():
        for label in aurora:
            if label == "warm-up":
                continue
            if "closed" in label:
                ratio = aurora[label]["rps"] / mlflow[label]["rps"]
                cpu = mlflow[label]["cpu_ms"] / aurora[label]["cpu_ms"]
                lines.append(
                    f"- {workers} worker(s), {label}: aurora/mlflow throughput **{ratio:.1f}x**, "
                    f"p99 {aurora[label]['p99']:.1f} ms vs {mlflow[label]['p99']:.1f} ms; "
                    f"{cpu:.1f}x less server CPU per request."
                )
            else:
                lines.append(
                    f"- {workers} worker(s), {label}: p99 aurora **{aurora[label]['p99']:.1f} ms**"
                    f" vs mlflow {mlflow[label]['p99']:.1f} ms."
                )
        logged, answered = log_rows[workers]
        lines.append(
            f"- {workers} worker(s): prediction log holds {logged:,} rows for {answered:,} "
            "answered requests after SIGTERM"
            + (
                " (wrk does not count the request each connection has in flight when it "
                "stops, which the server still answers and logs: up to one row more per "
                "connection; `--soak` counts exactly)."
                if args.generator == "wrk"
                else "."
            )
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
