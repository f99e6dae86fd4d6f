"""The Dagster UI in a real browser (Debian's Chromium driven by Playwright): the webserver on a
test home loads the code location, the demo experiment's asset graph renders with its group,
a Launchpad launch materializes raw -> eda/profile whose metadata shows its plot, and the
multi-model dashboard renders. Screenshots are kept under the test home (`screenshots/`).

The webserver runs with Dagster's DefaultRunCoordinator and no daemon: a launch starts at once
and no sensor or schedule launches runs of its own beside the test's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aurora_pipelines.settings import REPO_DIR, Settings
from tests.browser import browser  # noqa: F401  (fixture)

EXPERIMENT = "credit_default"
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 300
RUN_SECONDS = 420

INSTANCE_YAML = """telemetry:
  enabled: false
nux:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(base: str, query: str, **variables) -> dict:
    response = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables})
    response.raise_for_status()
    return response.json()["data"]


LOCATION_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries {
  name locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

RUNS_QUERY = """query($job: String!) { runsOrError(filter: {pipelineName: $job}) {
  ... on Runs { results { runId status } } } }"""


def _wait_for_location(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, "dagster-webserver exited; see webserver.log"
        try:
            entries = _graphql(base, LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        except (httpx.HTTPError, KeyError, TypeError):
            entries = []
        loaded = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]]
        if loaded:
            assert loaded[0]["__typename"] == "RepositoryLocation", loaded[0]
            return
        time.sleep(1)
    pytest.fail("the code location did not load in time")


@pytest.fixture(scope="module")
def ui_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ui_home")


@pytest.fixture(scope="module")
def webserver(ui_home: Path, browser) -> Iterator[str]:  # noqa: F811
    """dagster-webserver on a free port over a seeded test home (seeded by `aurora seed` in
    its own process: the embedded Hive metastore admits one JVM at a time)."""
    dagster_home = ui_home / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(INSTANCE_YAML)
    env = {
        **os.environ,
        "AURORA_HOME": str(ui_home),
        "DAGSTER_HOME": str(dagster_home),
        "AURORA_EXPERIMENTS_DIR": str(REPO_DIR / "experiments"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(REPO_DIR),
    }
    port = _free_port()
    log = (ui_home / "webserver.log").open("wb")
    server = subprocess.Popen(
        [
            str(BIN / "dagster-webserver"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(REPO_DIR / "workspace.yaml"),
        ],
        cwd=REPO_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        seeded = subprocess.run(
            [str(BIN / "aurora"), "seed", "--rows", "3000", "--batch-rows", "500"],
            cwd=REPO_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=STARTUP_SECONDS,
        )
        assert seeded.returncode == 0, seeded.stderr[-2000:]
        base = f"http://127.0.0.1:{port}"
        _wait_for_location(base, server)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def page(browser, ui_home: Path):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield context.new_page()
    context.close()


def _shot(page, ui_home: Path, name: str) -> None:
    shots = ui_home / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_the_asset_graph_of_the_demo_experiment_renders_with_its_group(
    webserver: str, page, ui_home: Path
):
    page.goto(f"{webserver}/asset-groups/{EXPERIMENT}", wait_until="networkidle")
    # The global lineage: one node per group (each experiment, governance, platform).
    for group in (EXPERIMENT, "governance", "platform"):
        page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
    _shot(page, ui_home, "asset_groups")
    page.goto(
        f"{webserver}/locations/aurora/asset-groups/{EXPERIMENT}/lineage",
        wait_until="networkidle",
    )
    page.get_by_text("profile", exact=True).first.wait_for(timeout=60_000)
    for node in ("raw", "features", "model", "staging_approval", "drift"):
        assert page.get_by_text(node, exact=True).count() >= 1, node
    # The instance's nux setting: no "Join the Dagster community" modal over the page.
    assert page.get_by_text("Join the Dagster community").count() == 0
    _shot(page, ui_home, "asset_graph")


def test_a_launchpad_launch_materializes_raw_and_the_profile_with_its_plot(
    webserver: str, page, ui_home: Path
):
    job = f"{EXPERIMENT}__refresh_sources"
    page.goto(f"{webserver}/locations/aurora/jobs/{job}/playground", wait_until="networkidle")
    launch = page.get_by_role("button", name="Launch Run")
    launch.wait_for(timeout=60_000)
    _shot(page, ui_home, "launchpad")
    launch.click()
    deadline = time.monotonic() + RUN_SECONDS
    status = None
    while time.monotonic() < deadline:
        runs = _graphql(webserver, RUNS_QUERY, job=job)["runsOrError"]["results"]
        status = runs[0]["status"] if runs else None
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS", f"run status {status}; see the run in {ui_home / 'dagster'}"

    page.goto(f"{webserver}/assets/{EXPERIMENT}/eda/profile", wait_until="networkidle")
    try:
        page.get_by_text("quality_score").first.wait_for(timeout=60_000)
    finally:
        _shot(page, ui_home, "profile_page")
    shows = page.get_by_text("Show Markdown")
    if shows.count():
        # Markdown metadata opens in a dialog; the histograms are its first plot.
        names = page.get_by_text("histograms_plot")
        assert names.count() >= 1
        row = names.first.locator("xpath=ancestor::tr[1]")
        (row.get_by_text("Show Markdown") if row.count() else shows.first).click()
    image = page.locator("img[src^='data:image/png;base64,']").first
    try:
        image.wait_for(timeout=30_000)
    finally:
        _shot(page, ui_home, "profile_metadata")
    assert image.evaluate("img => img.naturalWidth") > 100
    _shot(page, ui_home, "profile_metadata")


def test_the_multi_model_dashboard_renders(webserver: str, page, ui_home: Path):
    import uvicorn

    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.monitoring.dashboards import dashboards_dir, write_dashboards
    from aurora_pipelines.platform_api.app import create_platform_app

    settings = Settings(home=ui_home, experiments_dir=REPO_DIR / "experiments")
    write_dashboards(settings, dashboards_dir(settings))
    store = GovernanceStore.from_settings(settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_platform_app(settings, store), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.1)
        page.goto(f"http://127.0.0.1:{port}/dashboards", wait_until="networkidle")
        row = page.locator(f"tr[data-experiment='{EXPERIMENT}']")
        assert row.count() == 1
        assert "no champion yet" in row.inner_text()
        _shot(page, ui_home, "dashboard_overview")
        page.get_by_role("link", name=EXPERIMENT).click()
        page.get_by_text("No champion yet").wait_for(timeout=10_000)
        _shot(page, ui_home, "dashboard_experiment")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.dispose()
