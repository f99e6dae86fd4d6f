"""Deployment timings: blue/green rollback (target: under a second, no restart) and S3 upload
with multipart vs one PUT, against moto's server on 127.0.0.1.

Baselines measured in the same run: reading the routing state once (the least a rollback must
do against the registry), `aurora --help` in a fresh process (interpreter + CLI import), and a
single-PUT upload of the same file.

Usage: python benchmarks/bench_deploy.py [--repeats 10] [--mb 32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from aurora_pipelines.deploy import release  # noqa: E402
from aurora_pipelines.deploy.routing import read_routing  # noqa: E402
from aurora_pipelines.governance import GovernanceStore, load_policy  # noqa: E402
from aurora_pipelines.settings import DEFAULT_POLICY  # noqa: E402
from benchmarks.report import update_section  # noqa: E402
from tests.integration.test_deploy_release import approve, register_versions  # noqa: E402

MODEL = "bench_deploy"


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.0f} ms (max {max(samples) * 1000:.0f})"


def bench_rollback(tmp: Path, repeats: int) -> dict[str, list[float]]:
    tracking_uri = f"sqlite:///{tmp / 'mlflow.db'}"
    v1, v2 = register_versions(tracking_uri, tmp, MODEL, 2)
    store = GovernanceStore(f"sqlite:///{tmp / 'gov.db'}", load_policy(DEFAULT_POLICY))
    for v in (v1, v2):
        approve(store, tracking_uri, MODEL, v)
    ctx = release.ReleaseContext(tracking_uri, store, "release_manager_dave", "b", MODEL, MODEL)
    release.promote(ctx, v1)
    out: dict[str, list[float]] = {"read_routing": [], "rollback": [], "cli_rollback": []}
    out["cli_help"] = []
    env = {
        **os.environ,
        "AURORA_HOME": str(tmp / "home"),
        "AURORA_MLFLOW_TRACKING_URI": tracking_uri,
        "AURORA_GOVERNANCE_URL": store.url,
        "AURORA_USER": "release_manager_dave",
        "PYTHONPATH": str(REPO),
    }
    cli = [sys.executable, "-m", "aurora_pipelines.cli"]
    for _ in range(repeats):
        release.promote(ctx, v2, verify=False)  # reset: v2 champion, v1 fallback
        start = time.perf_counter()
        read_routing(tracking_uri, MODEL)
        out["read_routing"].append(time.perf_counter() - start)
        start = time.perf_counter()
        release.rollback(ctx)
        out["rollback"].append(time.perf_counter() - start)
        assert read_routing(tracking_uri, MODEL).champion == v1
    for _ in range(max(2, repeats // 3)):
        release.promote(ctx, v2, verify=False)
        start = time.perf_counter()
        subprocess.run(
            [*cli, "deploy", "rollback", MODEL], env=env, check=True, capture_output=True
        )
        out["cli_rollback"].append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([*cli, "--help"], env=env, check=True, capture_output=True)
        out["cli_help"].append(time.perf_counter() - start)
    store.dispose()
    return out


def bench_s3(tmp: Path, megabytes: int) -> dict[str, float]:
    import boto3

    from aurora_pipelines.deploy.artifact_store import S3ArtifactStore
    from tests.s3_support import aws_env, moto_server

    payload = tmp / "model.bin"
    payload.write_bytes(os.urandom(megabytes * 1024 * 1024))
    timings = {}
    with moto_server() as endpoint, aws_env(endpoint):
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
        for label, threshold in (("single_put", 1 << 40), ("multipart_8mb", 8 * 1024 * 1024)):
            store = S3ArtifactStore("bench", label, endpoint_url=endpoint,
                                    multipart_threshold=threshold)  # fmt: skip
            start = time.perf_counter()
            store.put(payload, "model.bin")
            timings[label] = time.perf_counter() - start
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--mb", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        rb = bench_rollback(Path(tmp) / "rb", args.repeats)
        s3 = bench_s3(Path(tmp), args.mb)
    floor = statistics.median(rb["read_routing"])
    help_s = statistics.median(rb["cli_help"])
    lines = [
        "## Deployment (`benchmarks/bench_deploy.py`)",
        "",
        "| measurement | time | ratio to baseline |",
        "|---|---|---|",
        f"| baseline: read routing (MLflow aliases + tags) | {_ms(rb['read_routing'])} | 1.0 |",
        f"| `release.rollback` in process (aliases, tags, record + audit) | {_ms(rb['rollback'])} "
        f"| {statistics.median(rb['rollback']) / floor:.1f}x |",
        f"| baseline: `aurora --help`, fresh process | {_ms(rb['cli_help'])} | 1.0 |",
        f"| `aurora deploy rollback`, fresh process | {_ms(rb['cli_rollback'])} "
        f"| {statistics.median(rb['cli_rollback']) / help_s:.1f}x |",
        f"| S3 (moto) upload {args.mb} MiB, one PUT (baseline) | {s3['single_put']:.2f} s | 1.0 |",
        f"| S3 (moto) upload {args.mb} MiB, multipart 8 MiB x 4 threads | "
        f"{s3['multipart_8mb']:.2f} s | {s3['multipart_8mb'] / s3['single_put']:.2f}x |",
        "",
        f"Target: rollback under 1 s — in process median "
        f"{statistics.median(rb['rollback']) * 1000:.0f} ms; the serving process picks the alias "
        "change up without a restart. Medians of "
        f"{args.repeats} rollbacks on the MLflow SQLite registry and the SQLite governance store.",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    update_section(REPO / "BENCHMARKS.md", "deploy", markdown)


if __name__ == "__main__":
    main()
