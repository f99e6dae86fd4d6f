#!/usr/bin/env python3
"""Start, check and stop Aurora's cluster stack on one machine (every process on 127.0.0.1).

    python deploy/cluster/stack.py up   --state DIR [--workers 2] [--home AURORA_HOME]
    python deploy/cluster/stack.py status --state DIR
    python deploy/cluster/stack.py down --state DIR

`up` starts, each with a health check and a log file under DIR/logs:
  - a Spark standalone master and N workers (the pyspark wheel's own `spark-class`),
  - a moto S3 server (the object store: MLflow artifacts, Aurora bundles),
  - `mlflow server` on PostgreSQL with an S3 artifact root,
  - `dagster-daemon` on a PostgreSQL Dagster instance (queued run coordinator, a concurrency
    limit) and `dagster-webserver` for the UI,
and writes DIR/cluster.env (`source` it: AURORA_DEPLOYMENT=cluster and every URL) and
DIR/stack.json (pids, ports, logs). PostgreSQL itself is not started here (`.ci/postgres.sh`
does); the admin URL comes from --postgres-url or AURORA_TEST_POSTGRES_URL. Each `up` makes
fresh databases named `<--name>_{dagster,mlflow,governance,metastore}`.

This script imports nothing of aurora_pipelines: it is the operator's tool, not the engine's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
BUCKET = "aurora"
S3_KEY = "aurora-cluster"  # moto accepts any key pair; real deployments use their own secrets
STORES = ("dagster", "mlflow", "governance", "metastore")
MARK = "AURORA_STACK_MARK"


class StackError(RuntimeError):
    pass


def free_port(preferred: int | None = None) -> int:
    if preferred:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def wait_for(what: str, check, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    """Poll `check()` until true; fail naming the log when the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(f"{what} exited with {proc.returncode}; see {log}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise StackError(f"{what} not healthy after {timeout:.0f} s; see {log}")


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=3) as response:
        return 200 <= response.status < 300


def http_json(url: str):
    with urllib.request.urlopen(url, timeout=3) as response:
        return json.load(response)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Stack:
    def __init__(self, state: Path) -> None:
        self.state = state.resolve()
        self.logs = self.state / "logs"
        self.file = self.state / "stack.json"
        self.info: dict = json.loads(self.file.read_text()) if self.file.exists() else {}

    def save(self) -> None:
        self.file.write_text(json.dumps(self.info, indent=2))

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None):
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{name}.log"
        out = log.open("ab")
        # A session of its own: `down` signals the whole group (a server and its workers).
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd or REPO, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.info.setdefault("processes", {})[name] = {
            "pid": proc.pid, "log": str(log), "argv": argv,
        }  # fmt: skip
        self.save()
        return proc, log


def _pg_url(admin_url: str, database: str, driver: str = "postgresql+psycopg") -> str:
    parts = urlsplit(admin_url)
    return urlunsplit((driver, parts.netloc, f"/{database}", "", ""))


def create_databases(admin_url: str, name: str) -> dict[str, str]:
    """Fresh databases for each store (dropped first: an `up` starts from nothing)."""
    import psycopg

    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    urls = {}
    with psycopg.connect(plain, autocommit=True) as conn:
        for store in STORES:
            db = f"{name}_{store}"
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db}"')
            urls[store] = _pg_url(admin_url, db)
    return urls


def dagster_yaml(max_runs: int) -> str:
    return textwrap.dedent(f"""\
        # Written by deploy/cluster/stack.py: a Dagster instance on PostgreSQL whose daemon
        # launches queued runs (sensors, schedules, the UI) in run-worker processes.
        storage:
          postgres:
            postgres_url:
              env: AURORA_DAGSTER_PG_URL
        run_coordinator:
          module: dagster.core.run_coordinator
          class: QueuedRunCoordinator
          config:
            max_concurrent_runs: {max_runs}
            # A run dequeued while its code server restarts is retried, not failed.
            max_user_code_failure_retries: 5
            user_code_failure_retry_delay: 15
            tag_concurrency_limits:
              # One run per experiment at a time: its Delta tables and gates are sequential.
              - key: aurora/experiment
                value:
                  applyLimitPerUniqueValue: true
                limit: 1
        run_launcher:
          # DefaultRunLauncher + a run-worker health check: a worker killed with -9 fails its
          # run (instead of leaving it STARTED and its experiment's queue blocked).
          module: aurora_pipelines.defs.run_launcher
          class: LocalProcessRunLauncher
        run_monitoring:
          enabled: true
          poll_interval_seconds: 5
        sensors:
          use_threads: false
        telemetry:
          enabled: false
        """)


# `--small-training`: the CI/demo budget (minutes, not tens of minutes, on a shared 2-core box).
SMALL_TRAINING = {"mode": "base", "cv_folds": 3, "hpo": {"n_trials": 0}}


def small_training_specs(state: Path) -> Path:
    """Copies of the repo's experiment specs with a small training budget (the same contract
    otherwise): CI proves the orchestration, the model search has its own tests."""
    import yaml

    out = state / "experiments"
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((REPO / "experiments").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        spec["training"] = {**spec.get("training", {}), **SMALL_TRAINING}
        (out / path.name).write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def up(args: argparse.Namespace) -> None:
    stack = Stack(Path(args.state))
    if stack.info.get("processes"):
        raise StackError(f"a stack is already recorded in {stack.file}; run `down` first")
    stack.state.mkdir(parents=True, exist_ok=True)
    admin = args.postgres_url or os.environ.get("AURORA_TEST_POSTGRES_URL")
    if not admin and not args.spark_only:
        raise StackError("no PostgreSQL: pass --postgres-url or set AURORA_TEST_POSTGRES_URL")
    home = Path(args.home or stack.state / "home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    dagster_home = stack.state / "dagster"
    dagster_home.mkdir(exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(dagster_yaml(args.max_concurrent_runs))
    urls = {} if args.spark_only else create_databases(admin, args.name)
    t0 = time.monotonic()
    ports = {
        "spark_master": free_port(7077),
        "spark_ui": free_port(),
        "s3": free_port(),
        "mlflow": free_port(),
        "dagster_ui": free_port(),
    }
    stack.info.update(ports=ports, home=str(home), databases=urls, state=str(stack.state))
    stack.save()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "DAGSTER_"))}
    base["PATH"] = f"{BIN}{os.pathsep}{base.get('PATH', '')}"
    # Inherited by every descendant (run workers, their Spark drivers, executors): `down`
    # finds any that left their process group. Not in cluster.env: clients are not marked.
    base[MARK] = str(stack.state)
    # The executors' Python workers import this checkout (mapInPandas functions).
    base["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), base.get("PYTHONPATH")) if p)
    base["PYSPARK_PYTHON"] = sys.executable
    spark = str(spark_home() / "bin" / "spark-class")
    master_url = f"spark://127.0.0.1:{ports['spark_master']}"
    spark_env = {**base, "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1"}
    master, log = stack.start(
        "spark-master",
        [spark, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
         "--port", str(ports["spark_master"]), "--webui-port", str(ports["spark_ui"])],
        spark_env,
    )  # fmt: skip
    ui = f"http://127.0.0.1:{ports['spark_ui']}/json/"
    wait_for("spark master", lambda: http_json(ui).get("status") == "ALIVE", 90, master, log)
    workers = []
    for i in range(args.workers):
        work = stack.state / f"spark-work-{i}"
        proc, wlog = stack.start(
            f"spark-worker-{i}",
            [spark, "org.apache.spark.deploy.worker.Worker", master_url, "--host", "127.0.0.1",
             "--cores", str(args.worker_cores), "--memory", args.worker_memory,
             "--webui-port", str(free_port()), "--work-dir", str(work)],
            spark_env,
        )  # fmt: skip
        workers.append((proc, wlog))

    def alive_workers() -> int:
        return sum(w.get("state") == "ALIVE" for w in http_json(ui).get("workers", []))

    for proc, wlog in workers:
        wait_for(
            f"{args.workers} spark workers", lambda: alive_workers() >= args.workers, 90, proc, wlog
        )
    if args.spark_only:  # the scaling benchmark: the Spark cluster alone
        stack.info["urls"] = {"spark": f"http://127.0.0.1:{ports['spark_ui']}"}
        stack.info["spark_master"] = master_url
        stack.save()
        print(f"spark up: {master_url}")
        return
    s3_env = {**base, "AWS_ACCESS_KEY_ID": S3_KEY, "AWS_SECRET_ACCESS_KEY": S3_KEY}
    s3_url = f"http://127.0.0.1:{ports['s3']}"
    moto, log = stack.start(
        "s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(ports["s3"])],
        s3_env,
    )  # fmt: skip
    wait_for("moto s3", lambda: http_ok(f"{s3_url}/moto-api/"), 60, moto, log)
    import boto3

    boto3.client(
        "s3", endpoint_url=s3_url, region_name="us-east-1",
        aws_access_key_id=S3_KEY, aws_secret_access_key=S3_KEY,
    ).create_bucket(Bucket=BUCKET)  # fmt: skip
    mlflow_env = {**s3_env, "MLFLOW_S3_ENDPOINT_URL": s3_url, "AWS_DEFAULT_REGION": "us-east-1"}
    mlflow, log = stack.start(
        "mlflow",
        [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(ports["mlflow"]),
         "--backend-store-uri", urls["mlflow"],
         # Proxied artifacts: clients upload through the server, only it holds the S3 keys.
         "--artifacts-destination", f"s3://{BUCKET}/mlflow", "--workers", "1"],
        mlflow_env,
    )  # fmt: skip
    mlflow_url = f"http://127.0.0.1:{ports['mlflow']}"
    wait_for("mlflow server", lambda: http_ok(f"{mlflow_url}/health"), 180, mlflow, log)

    audit_head = stack.state / "audit-head"
    env = {
        "AURORA_DEPLOYMENT": "cluster",
        "AURORA_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "AURORA_SPARK_MASTER": master_url,
        "AURORA_METASTORE_URL": _jdbc_url(admin, f"{args.name}_metastore"),
        "AURORA_MLFLOW_TRACKING_URI": mlflow_url,
        "AURORA_GOVERNANCE_URL": urls["governance"],
        "AURORA_AUDIT_HEAD": str(audit_head),
        "AURORA_ARTIFACT_URL": f"s3://{BUCKET}/bundles",
        # dagster-postgres speaks psycopg2 (SQLAlchemy 2.1 would default to psycopg 3).
        "AURORA_DAGSTER_PG_URL": urls["dagster"].replace("+psycopg://", "+psycopg2://"),
        "AWS_ENDPOINT_URL_S3": s3_url,
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "MLFLOW_S3_ENDPOINT_URL": s3_url,
        "AURORA_CLUSTER_STATE": str(stack.state),
    }
    if args.small_training:
        env["AURORA_EXPERIMENTS_DIR"] = str(small_training_specs(stack.state))
    env["AURORA_POLICY"] = str(Path(args.policy).resolve() if args.policy else token_policy(stack))
    # The driver advertises 127.0.0.1 to executors (this host's name resolves elsewhere).
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env.update(_metastore_credentials(admin))
    run_env = {**base, **env}
    daemon, log = stack.start(
        "dagster-daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
        run_env,
    )  # fmt: skip

    def daemon_alive() -> bool:
        return (
            subprocess.run(
                [str(BIN / "dagster-daemon"), "liveness-check"], env=run_env,
                capture_output=True, timeout=60,
            ).returncode == 0
        )  # fmt: skip

    wait_for("dagster-daemon", daemon_alive, 240, daemon, log)
    web, log = stack.start(
        "dagster-webserver",
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(ports["dagster_ui"]),
         "-w", str(REPO / "workspace.yaml")],
        run_env,
    )  # fmt: skip
    dagster_url = f"http://127.0.0.1:{ports['dagster_ui']}"
    wait_for("dagster-webserver", lambda: http_ok(f"{dagster_url}/server_info"), 240, web, log)

    env_file = stack.state / "cluster.env"
    env_file.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
    env_file.chmod(0o600)  # holds database passwords
    stack.info.update(
        env_file=str(env_file),
        urls={"spark": f"http://127.0.0.1:{ports['spark_ui']}", "mlflow": mlflow_url,
              "dagster": dagster_url, "s3": s3_url},
        started_seconds=round(time.monotonic() - t0, 1),
    )  # fmt: skip
    stack.save()
    print(f"stack up in {stack.info['started_seconds']} s; `source {env_file}`")
    status(args)


def token_policy(stack: Stack) -> Path:
    """The packaged policy with `identity: token`: a shared deployment believes tokens only."""
    packaged = REPO / "aurora_pipelines" / "governance" / "policy.yaml"
    text = packaged.read_text().replace("identity: trust_env", "identity: token")
    path = stack.state / "policy.yaml"
    path.write_text(text)
    return path


def _jdbc_url(admin_url: str, database: str) -> str:
    """The Hive metastore's JDBC URL (credentials travel separately, not in the URL)."""
    parts = urlsplit(admin_url)
    return f"jdbc:postgresql://{parts.hostname}:{parts.port or 5432}/{database}"


def _metastore_credentials(admin_url: str) -> dict[str, str]:
    parts = urlsplit(admin_url)
    return {
        "AURORA_METASTORE_USER": parts.username or "",
        "AURORA_METASTORE_PASSWORD": parts.password or "",
    }


def status(args: argparse.Namespace) -> None:
    stack = Stack(Path(args.state))
    if not stack.info.get("processes"):
        print(f"no stack recorded in {stack.file}")
        return
    for name, proc in stack.info["processes"].items():
        alive = _alive(proc["pid"])
        print(f"{name:18} pid {proc['pid']:>7}  {'up' if alive else 'DOWN':4}  {proc['log']}")
    for name, url in stack.info.get("urls", {}).items():
        print(f"{name:18} {url}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _group_alive(pgid: int) -> bool:
    """Any process left in the group (a server's children outlive a killed leader)."""
    with contextlib.suppress(ChildProcessError):  # reap the leader when it is our child
        os.waitpid(pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_group(pgid: int, grace: float) -> bool:
    """SIGTERM the group, SIGKILL what is left after `grace` s; True if it had processes."""
    if not _group_alive(pgid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    for sig, wait in ((signal.SIGKILL, grace), (None, 10.0)):
        deadline = time.monotonic() + wait
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not _group_alive(pgid) or sig is None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, sig)
    return True


def _marked(state: Path) -> list[int]:
    """Processes that carry this stack's mark in their environment (see `up`)."""
    mark = f"{MARK}={state}".encode()
    skip = {os.getpid(), os.getppid()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # gone, or not ours to read
            continue
        if mark in environ:
            found.append(int(entry.name))
    return found


def down(args: argparse.Namespace) -> None:
    """Stop every process this stack started, newest first: each one's process group (a
    server and its children), then any marked process that escaped its group."""
    stack = Stack(Path(args.state))
    processes = stack.info.get("processes", {})
    for name, proc in reversed(list(processes.items())):
        if _stop_group(proc["pid"], grace=getattr(args, "grace", 20.0)):
            print(f"stopped {name} (pid {proc['pid']})")
    if Path("/proc").is_dir():
        for pid in _marked(stack.state):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                print(f"killed stray process {pid} of this stack")
    stack.info["processes"] = {}
    stack.save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "status", "down"):
        p = sub.add_parser(name)
        p.add_argument("--state", default=str(REPO / ".aurora-cluster"), help="state directory")
        if name == "down":
            p.add_argument("--grace", type=float, default=20.0, help="s from SIGTERM to SIGKILL")
        if name == "up":
            p.add_argument("--home", help="AURORA_HOME (default: STATE/home)")
            p.add_argument("--workers", type=int, default=2)
            p.add_argument("--worker-cores", type=int, default=1)
            p.add_argument("--worker-memory", default="2g")
            p.add_argument("--max-concurrent-runs", type=int, default=2)
            p.add_argument("--name", default="aurora_cluster", help="database name prefix")
            p.add_argument("--postgres-url", help="admin URL (default AURORA_TEST_POSTGRES_URL)")
            p.add_argument("--policy", help="governance policy (must not be trust_env)")
            p.add_argument("--spark-only", action="store_true", help="master + workers only")
            p.add_argument(
                "--small-training", action="store_true",
                help="experiment specs with a small training budget (CI, demo-cluster)",
            )  # fmt: skip
    args = parser.parse_args(argv)
    try:
        {"up": up, "status": status, "down": down}[args.command](args)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.command == "up":
            down(args)
        return 1
    except BaseException:  # anything else (a database error, Ctrl-C): no half stack left up
        if args.command == "up":
            down(args)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
