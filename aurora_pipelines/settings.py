"""One Settings object for the whole platform (env prefix AURORA_).

Everything Aurora writes lives under `home` (AURORA_HOME, default ./.aurora); each store's
location can be overridden on its own, which is how the embedded default becomes a cluster
deployment without code changes.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aurora_pipelines.lake.layout import LakeLayout

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
DEFAULT_POLICY = PACKAGE_DIR / "governance" / "policy.yaml"
ENV_PREFIX = "AURORA_"


class Settings(BaseModel):
    """Each field from its keyword argument, else from `AURORA_<FIELD>` (any case), else its
    default: what pydantic-settings' BaseSettings did for these plain fields. Read here because
    importing pydantic-settings took a third of every CLI command's start-up."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        env = {k.lower(): v for k, v in os.environ.items() if k.upper().startswith(ENV_PREFIX)}
        prefix = ENV_PREFIX.lower()
        found = {
            name: env[prefix + name]
            for name in cls.model_fields
            if name not in data and prefix + name in env
        }
        return {**found, **data}

    home: Path = Field(default=Path(".aurora"), description="Root of everything Aurora writes.")
    experiments_dir: Path = Field(default=REPO_DIR / "experiments")
    dbt_project_dir: Path = Field(default=REPO_DIR / "dbt_project")
    policy: Path = Field(default=DEFAULT_POLICY, description="Governance policy file.")
    governance_url: str | None = Field(default=None, description="SQLAlchemy URL.")
    mlflow_tracking_uri: str | None = None
    artifact_url: str | None = Field(default=None, description="Local dir or s3://bucket/prefix.")
    spark_master: str = "local[2]"
    metastore_url: str | None = Field(
        default=None,
        description="JDBC URL of a shared Hive metastore (AURORA_METASTORE_URL, e.g. "
        "jdbc:postgresql://host/db, with AURORA_METASTORE_USER/_PASSWORD); default: embedded "
        "Derby under AURORA_HOME, which admits one process at a time.",
    )
    dbt_target: str = Field(default="duckdb", description="dbt target: duckdb (local) or spark.")
    user: str | None = Field(
        default=None,
        description="Caller identity (AURORA_USER); believed only under `identity: trust_env`.",
    )
    audit_head: Path | None = Field(
        default=None,
        description="Append-only file recording the audit chain's head (AURORA_AUDIT_HEAD); "
        "default: next to the SQLite governance database.",
    )
    dagster_url: str = Field(
        default="http://127.0.0.1:3000",
        description="The Dagster webserver that launches runs (AURORA_DAGSTER_URL; `make ui`).",
    )
    mlflow_ui_url: str = Field(
        default="http://127.0.0.1:5000",
        description="The MLflow UI that asset metadata links runs to (AURORA_MLFLOW_UI_URL; "
        "`make mlflow-ui`).",
    )
    governance_ui_url: str = Field(
        default="http://127.0.0.1:8765/ui",
        description="The checkers' web page that asset metadata links approval requests to "
        "(AURORA_GOVERNANCE_UI_URL; `make governance-api`).",
    )
    pii_key: str | None = Field(
        default=None,
        description="Secret key for masking PII columns (AURORA_PII_KEY); default: a random "
        "key created once in AURORA_HOME/pii.key.",
    )

    @cached_property
    def root(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def layout(self) -> LakeLayout:
        """The path rules for this home (lake/layout.py)."""
        return LakeLayout(self.root)

    @property
    def lake_dir(self) -> Path:
        return self.layout.lake_dir

    @property
    def reports_dir(self) -> Path:
        return self.layout.reports_dir

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def warehouse_dir(self) -> Path:
        return self.root / "warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.root / "metastore_db"

    @property
    def governance_db_url(self) -> str:
        return self.governance_url or f"sqlite:///{self.root / 'governance.db'}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.root / 'mlflow' / 'mlflow.db'}"

    @property
    def mlflow_artifacts_dir(self) -> Path:
        return self.root / "mlflow" / "artifacts"

    @property
    def artifact_store_url(self) -> str:
        return self.artifact_url or str(self.root / "artifacts")


def get_settings() -> Settings:
    """Settings read from the environment now (not cached: tests switch AURORA_HOME)."""
    return Settings()
