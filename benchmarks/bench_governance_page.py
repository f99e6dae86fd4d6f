"""The checker's page with 1,000 pending requests vs the JSON API, same server, same run.

A governance store (SQLite) gets N pending staging requests (one per model: one pending request
per gate and model); `create_app` serves the API and the page with uvicorn on 127.0.0.1. Timed,
interleaved, over keep-alive connections after a warm-up: the queue page (`/ui/queue`, signed
session cookie; every request checked for what the validator may decide, then rendered) against
`GET /api/v1/approvals?status=pending` (bearer token, JSON), and one request's page. The ratio
page/API is the figure of merit: the API is the baseline.

Usage: python benchmarks/bench_governance_page.py [--requests 1000] [--repeats 30] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from aurora_pipelines.governance import GovernanceStore, load_policy  # noqa: E402
from aurora_pipelines.governance.api import create_app  # noqa: E402
from aurora_pipelines.settings import DEFAULT_POLICY  # noqa: E402
from benchmarks.report import update_section  # noqa: E402
from tests.governance_server import free_port  # noqa: E402


def seed(store: GovernanceStore, count: int) -> None:
    for i in range(count):
        store.request_approval(
            "credit", "staging", f"model_{i:04d}", 1, f"{i:064x}", "ds_alice",
            details={"model_card": f"/reports/credit/model_card/v{i}/model_card.html"},
        )  # fmt: skip


def serve(store: GovernanceStore) -> tuple[uvicorn.Server, str]:
    port = free_port()
    config = uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def page_client(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    nonce = re.search(r'name="login_nonce" value="(\w+)"', client.get("/ui/login").text).group(1)
    client.post("/ui/login", data={"login_nonce": nonce, "token": token})
    return client


def timed(client: httpx.Client, path: str, **params: str) -> tuple[float, int]:
    start = time.perf_counter()
    response = client.get(path, params=params or None)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return elapsed, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = GovernanceStore(f"sqlite:///{Path(tmp) / 'g.db'}", load_policy(DEFAULT_POLICY))
        start = time.perf_counter()
        seed(store, args.requests)
        seeding = time.perf_counter() - start
        token, _ = store.create_token("validator_bob", "validator_bob")
        server, url = serve(store)
        page = page_client(url, token)
        api = httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"})
        one = store.list_requests()[args.requests // 2].id
        cases = {
            "page `/ui/queue`": (page, "/ui/queue", {}),
            "API `GET /api/v1/approvals?status=pending`": (
                api, "/api/v1/approvals", {"status": "pending"},
            ),
            "page `/ui/requests/{id}`": (page, f"/ui/requests/{one}", {}),
        }  # fmt: skip
        for client, path, params in cases.values():  # warm-up
            timed(client, path, **params)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        sizes: dict[str, int] = {}
        for _ in range(args.repeats):  # interleaved: load on the machine hits all alike
            for name, (client, path, params) in cases.items():
                seconds, sizes[name] = timed(client, path, **params)
                samples[name].append(seconds * 1000)
        server.should_exit = True
        store.dispose()

    load = os.getloadavg()[0]
    rows = []
    for name, values in samples.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        median = statistics.median(values)
        rows.append(f"| {name} | {median:.1f} | {p90:.1f} | {sizes[name] / 1024:.0f} |")
    page_ms = statistics.median(samples["page `/ui/queue`"])
    api_ms = statistics.median(samples["API `GET /api/v1/approvals?status=pending`"])
    markdown = "\n".join(
        [
            f"## Checker's page vs JSON API, {args.requests:,} pending requests "
            "(`benchmarks/bench_governance_page.py`)",
            "",
            f"{args.requests} pending staging requests in a SQLite governance store; one "
            "uvicorn server (API and page in one app) on 127.0.0.1; validator_bob signed in "
            f"(cookie) and with a bearer token; {args.repeats} interleaved requests each after "
            f"a warm-up, same run, {datetime.now(UTC):%Y-%m-%d} (2 cores shared with other "
            f"jobs; 1-min load average {load:.1f} at the end). Seeding the requests took "
            f"{seeding:.1f} s.",
            "",
            "| endpoint | median ms | p90 ms | response KiB |",
            "|---|---:|---:|---:|",
            *rows,
            "",
            f"- queue page / JSON API (median): **{page_ms / api_ms:.2f}x**. Both list the "
            "same pending requests; the page also asks the approval engine, per request, "
            "whether the caller may decide it, and renders HTML; the API validates and "
            "serializes every field of every request (decisions, approvers, quorum, deadline) "
            "and answers about twice the bytes.",
        ]
    )
    print(markdown)
    if not args.no_write:
        update_section(REPO / "BENCHMARKS.md", "governance_page", markdown)


if __name__ == "__main__":
    main()
