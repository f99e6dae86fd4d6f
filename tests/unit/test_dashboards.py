"""The dashboards: the overview lists every experiment, one without a champion gets an empty
state, and the platform API serves the pages the asset wrote."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from aurora_pipelines.governance import GovernanceStore, load_policy
from aurora_pipelines.monitoring import series
from aurora_pipelines.monitoring.dashboards import dashboards_dir, write_dashboards
from aurora_pipelines.platform_api.app import create_platform_app
from aurora_pipelines.settings import DEFAULT_POLICY
from aurora_pipelines.specs import write_spec
from tests.factories import home_settings, make_spec


def test_overview_and_empty_state_are_served_by_the_platform_api(tmp_path: Path):
    import pandas as pd

    settings = home_settings(tmp_path / "home")
    spec = make_spec("dash_exp")
    write_spec(settings.experiments_dir, spec)
    drift = settings.lake_dir / spec.name / "monitor" / "drift"
    for day, share in (("2026-11-01", 0.1), ("2026-11-02", 0.45)):
        series.append_window(
            drift,
            pd.DataFrame({"column": ["income"], "psi": [share], "drifted": [share > 0.3]}),
            window=day,
            model_version="1",
            drift_share=share,
        )
    store = GovernanceStore(settings.governance_db_url, load_policy(DEFAULT_POLICY))
    client = TestClient(create_platform_app(settings, store))
    before = client.get("/dashboards/")
    assert before.status_code == 200 and "materialize" in before.text

    written = write_dashboards(settings, dashboards_dir(settings))
    (row,) = written.rows
    assert (row.champion, row.health, row.drift_state) == (None, "n/a", "drifted")
    assert [p.value for p in row.drift] == [0.1, 0.45]

    overview = client.get("/dashboards/")
    assert overview.status_code == 200
    assert "data-experiment='dash_exp'" in overview.text and "no champion yet" in overview.text
    page = client.get("/dashboards/dash_exp.html")
    assert page.status_code == 200 and "No champion yet" in page.text
    assert client.get("/dashboards/nosuch.html").status_code == 404
    assert client.get("/dashboards/..%2Fsecret.html").status_code == 404
    store.dispose()
