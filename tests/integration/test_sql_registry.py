"""The direct SQL path to MLflow's registry (registry/sql_registry.py) reads and writes what
MlflowClient does, on a real MLflow SQLite registry, and the commands a person waits on
(`status`, `deploy rollback`, `approvals list`) run without importing MLflow or pandas."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from aurora_pipelines.deploy import release, routing
from aurora_pipelines.errors import NotFound
from aurora_pipelines.registry import sql_registry as sr
from aurora_pipelines.settings import REPO_DIR
from tests.factories import approve, governance_store, register_stub_versions

MODEL = "credit_default"  # the repository's example spec, so `aurora status` finds it


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("sqlreg")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    register_stub_versions(uri, root, MODEL, 3)
    return uri


def test_known_revision_is_mlflow_schema_head():
    # A new MLflow migration must be reviewed here before the SQL path writes its tables.
    from alembic.script import ScriptDirectory
    from mlflow.store import db_migrations

    heads = ScriptDirectory(os.path.dirname(db_migrations.__file__)).get_heads()
    assert set(heads) <= sr.KNOWN_REVISIONS, heads


def test_writes_read_back_through_mlflow_and_the_other_way(registry):
    fast = sr.sql_registry(registry)
    assert fast is not None
    client = MlflowClient(tracking_uri=registry, registry_uri=registry)
    fast.apply(MODEL, {"champion": "2", "fallback": "1"}, {routing.CHALLENGER_SHARE_TAG: "0"})
    model = client.get_registered_model(MODEL)
    assert _aliases(client) == {"champion": "2", "fallback": "1"}
    assert model.tags[routing.CHALLENGER_SHARE_TAG] == "0"
    fast.apply(MODEL, {"champion": "3", "fallback": None})  # update one, delete one
    assert _aliases(client) == {"champion": "3"}

    client.set_registered_model_alias(MODEL, "challenger", "1")
    client.set_registered_model_tag(MODEL, routing.CHALLENGER_SHARE_TAG, "0.25")
    state = routing.read_routing(registry, MODEL)
    assert (state.champion, state.challenger, state.challenger_share) == ("3", "1", 0.25)
    assert fast.alias_version(MODEL, "challenger") == "1"
    assert fast.latest_version(MODEL).version == "3"
    assert routing.read_routing(registry, "no_such_model") == routing.RoutingState("no_such_model")


def _aliases(client: MlflowClient) -> dict[str, str]:
    return {a: str(v) for a, v in client.get_registered_model(MODEL).aliases.items()}


def test_a_missing_version_writes_nothing(registry):
    fast = sr.sql_registry(registry)
    before = fast.routing_view(MODEL)
    with pytest.raises(NotFound, match="no version 99"):
        fast.apply(MODEL, {"fallback": "1", "champion": "99"}, {"aurora.strategy": "x"})
    assert fast.routing_view(MODEL) == before
    with pytest.raises(NotFound, match="not found"):
        fast.apply("no_such_model", {"champion": "1"})


def test_an_unknown_schema_revision_falls_back_to_mlflow(registry, tmp_path):
    copy = tmp_path / "other.db"
    shutil.copy(registry.removeprefix("sqlite:///"), copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    assert sr.sql_registry(f"sqlite:///{copy}") is None
    assert sr.sql_registry(f"sqlite:///{tmp_path / 'absent.db'}") is None
    assert sr.sql_registry("http://127.0.0.1:5000") is None


def test_rollback_status_and_approvals_as_processes_import_no_mlflow_or_orm(registry, tmp_path):
    store = governance_store(f"sqlite:///{tmp_path / 'gov.db'}")
    for v in ("1", "2"):
        approve(store, registry, MODEL, v)
    ctx = release.ReleaseContext(registry, store, "release_manager_dave", "t", MODEL, MODEL)
    release.promote(ctx, "1")
    release.promote(ctx, "2")
    store.dispose()
    env = {
        **os.environ,
        "AURORA_HOME": str(tmp_path / "home"),
        "AURORA_EXPERIMENTS_DIR": str(Path(REPO_DIR) / "experiments"),
        "AURORA_MLFLOW_TRACKING_URI": registry,
        "AURORA_GOVERNANCE_URL": f"sqlite:///{tmp_path / 'gov.db'}",
        "AURORA_USER": "release_manager_dave",
    }
    heavy = ("mlflow", "pandas", "pyarrow", "pyspark", "dagster", "pydantic_settings")
    # A rollback writes through the governance store (SQLAlchemy Core, not the ORM); the reads
    # of `status` and `approvals list` on SQLite stores need no SQLAlchemy at all.
    commands = {
        ("deploy", "rollback", MODEL): (*heavy, "sqlalchemy.orm"),
        ("status", MODEL): (*heavy, "sqlalchemy"),
        ("approvals", "list"): (*heavy, "sqlalchemy"),
    }
    for argv, banned in commands.items():
        probe = (
            "import sys\n"
            "from aurora_pipelines.cli import main\n"
            "try:\n"
            f"    main({list(argv)!r})\n"
            "except SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n"
            f"print('HEAVY', sorted(m for m in {banned!r} if m in sys.modules))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=REPO_DIR
        )
        assert done.returncode == 0, done.stderr
        assert "HEAVY []" in done.stdout, (argv, done.stdout.splitlines()[-1])
    state = routing.read_routing(registry, MODEL)
    assert (state.champion, state.fallback) == ("1", None)  # the CLI rolled v2 back to v1
