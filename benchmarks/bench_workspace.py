"""Experiment search: `aurora experiments list --search` over N experiments, and the platform
API's list/search p50/p99 with 20 concurrent clients over real HTTP on 127.0.0.1.

Baselines measured in the same run: reading and YAML-parsing the same N spec files (the floor
of any file-based catalog) for the search; `GET /healthz` at the same concurrency for the API.

Usage: python benchmarks/bench_workspace.py [--experiments 1000] [--requests 400]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from aurora_pipelines.settings import DEFAULT_POLICY, Settings  # noqa: E402

WORDS = ["credit", "churn", "fraud", "pricing", "retention", "default", "loans", "cards"]


def write_specs(directory: Path, count: int) -> None:
    from aurora_pipelines.workspace.manage import build_spec, write_atomically

    for i in range(count):
        a, b = WORDS[i % len(WORDS)], WORDS[(i * 7 + 3) % len(WORDS)]
        spec = build_spec(
            {
                "name": f"exp_{i:05d}",
                "team": "risk",
                "owner": "ds_alice" if i % 3 else "validator_bob",
                "description": f"{a} model number {i} for {b}",
                "tags": [a, b],
                "source": {"kind": "csv", "path": f"/data/{i}.csv"},
                "target": "y",
                "features": {"dbt_model": f"exp_{i:05d}_features"},
            }
        )
        write_atomically(directory, spec)


def time_search(settings: Settings, repeats: int) -> tuple[float, float, int]:
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.workspace import catalog
    from aurora_pipelines.workspace.store import WorkspaceStore

    workspace = WorkspaceStore(GovernanceStore.from_settings(settings))
    workspace.engine  # noqa: B018 — tables exist before timing
    # Cold: a fresh CLI process parses every spec; warm: a server's next request.
    catalog._PARSED.clear()
    start = time.perf_counter()
    found = catalog.search(catalog.catalog(settings, workspace), text="credit pricing")
    cold = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeats):
        catalog.search(catalog.catalog(settings, workspace), text="credit pricing")
    warm = (time.perf_counter() - start) / repeats
    return cold, warm, len(found)


def time_yaml_floor(directory: Path) -> float:
    start = time.perf_counter()
    for path in sorted(directory.glob("*.yaml")):
        yaml.safe_load(path.read_text())
    return time.perf_counter() - start


def hammer(url: str, path: str, token: str, clients: int, requests: int) -> list[float]:
    import httpx

    latencies: list[float] = []
    lock = threading.Lock()
    per_client = requests // clients

    def run() -> None:
        with httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as client:
            mine = []
            for _ in range(per_client):
                start = time.perf_counter()
                response = client.get(path)
                mine.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiments", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        experiments = tmp / "experiments"
        env = {
            "AURORA_HOME": str(tmp / "home"),
            "AURORA_EXPERIMENTS_DIR": str(experiments),
            "AURORA_POLICY": str(DEFAULT_POLICY),
        }
        os.environ.update(env)
        write_specs(experiments, args.experiments)
        settings = Settings(home=tmp / "home", experiments_dir=experiments)
        floor = time_yaml_floor(experiments)
        cold, warm, hits = time_search(settings, 5)
        print(f"experiments list --search over {args.experiments} specs ({hits} hits)")
        print(f"  YAML parse floor       {floor * 1000:8.1f} ms")
        print(f"  search, cold (CLI)     {cold * 1000:8.1f} ms  {cold / floor:5.2f}x floor")
        print(f"  search, warm (server)  {warm * 1000:8.1f} ms  {warm / floor:5.2f}x floor")

        from aurora_pipelines.governance import GovernanceStore, load_policy
        from tests.governance_server import governance_server

        store = GovernanceStore(settings.governance_db_url, load_policy(DEFAULT_POLICY))
        token, _ = store.create_token("ds_alice", "ds_alice")
        with governance_server(env) as url:
            hammer(url, "/api/v1/experiments?search=credit", token, 2, 4)  # warm the server
            health = hammer(url, "/healthz", token, args.clients, args.requests)
            listed = hammer(url, "/api/v1/experiments?search=credit+pricing&limit=50", token,
                            args.clients, args.requests)  # fmt: skip
        print(f"API, {args.clients} concurrent clients, {args.requests} requests each endpoint")
        print(
            f"  GET /healthz           p50 {pct(health, 50):7.1f} ms  p99 {pct(health, 99):7.1f} ms"
        )
        print(
            f"  GET experiments search p50 {pct(listed, 50):7.1f} ms  p99 {pct(listed, 99):7.1f} ms"
            f"  ({pct(listed, 99) / pct(health, 99):.1f}x healthz p99)"
        )
        store.dispose()


if __name__ == "__main__":
    main()
