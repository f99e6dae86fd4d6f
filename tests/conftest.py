"""Shared fixtures: real components, one AURORA_HOME and one Spark session per test session.

A JVM start costs ~10 s, and Spark allows one context per process, so Spark-backed tests
share the session-wide home; tests that need isolation use their own experiment names or
their own SQLite/Delta paths under tmp_path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("AURORA_SPARK_DRIVER_MEMORY", "2g")


@pytest.fixture(autouse=True)
def _no_personal_token(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Tests never see the developer's own `aurora login` token or AURORA_TOKEN."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg_config")))
    monkeypatch.delenv("AURORA_TOKEN", raising=False)


@pytest.fixture(scope="session")
def aurora_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("aurora_home")
    previous = {k: os.environ.get(k) for k in ("AURORA_HOME", "DAGSTER_HOME")}
    os.environ["AURORA_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    (home / "dagster").mkdir()
    yield home
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def settings(aurora_home: Path):
    from aurora_pipelines.settings import Settings

    return Settings(home=aurora_home)


class _LiveSpark:
    """The process's Spark session for the test home, looked up on every use.

    `get_spark` restarts the session when a test runs assets on another AURORA_HOME; a plain
    session object held by this fixture would then be stopped under later tests.
    """

    def __init__(self, settings) -> None:
        self._settings = settings

    def __getattr__(self, name: str):
        from aurora_pipelines.lake.spark import get_spark

        return getattr(get_spark(self._settings), name)


@pytest.fixture(scope="session")
def spark(settings):
    from aurora_pipelines.lake.spark import get_spark, stop_spark

    get_spark(settings)
    yield _LiveSpark(settings)
    stop_spark()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh AURORA_HOME for one test, exported to the environment the CLI and the
    resources read (monkeypatch restores the session's values after)."""
    from tests.factories import export_home, home_settings

    settings = home_settings(tmp_path)
    export_home(monkeypatch, settings)
    return settings


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A running PostgreSQL (from .ci/run, or a throwaway cluster); skipped if none can be had."""
    from tests.postgres import postgres_server, unavailable_reason

    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def governance_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty governance database on each backend: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gov' / 'governance.db'}"
        return
    from tests.postgres import fresh_database

    with fresh_database(request.getfixturevalue("postgres_admin_url")) as url:
        yield url
