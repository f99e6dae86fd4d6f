"""One resource that hands the engine its backends, all configured from the same Settings.

Each backend (Spark session, Delta lake, MLflow registry, artifact store, governance store)
is chosen by its URL/config, not by code: the embedded default and a cluster differ only
in these fields.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from aurora_pipelines.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from aurora_pipelines.deploy.artifact_store import ArtifactStore
    from aurora_pipelines.governance.store import GovernanceStore


class AuroraResource(dg.ConfigurableResource):
    """Where Aurora keeps things; every field defaults from AURORA_* settings."""

    home: str
    spark_master: str = "local[2]"
    governance_url: str
    policy_path: str
    tracking_uri: str
    artifact_url: str
    experiments_dir: str
    user: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AuroraResource:
        return cls(
            home=str(settings.root),
            spark_master=settings.spark_master,
            governance_url=settings.governance_db_url,
            policy_path=str(settings.policy),
            tracking_uri=settings.tracking_uri,
            artifact_url=settings.artifact_store_url,
            experiments_dir=str(settings.experiments_dir),
            user=settings.user,
        )

    @property
    def settings(self) -> Settings:
        return Settings(
            home=Path(self.home),
            spark_master=self.spark_master,
            governance_url=self.governance_url,
            policy=Path(self.policy_path),
            mlflow_tracking_uri=self.tracking_uri,
            artifact_url=self.artifact_url,
            experiments_dir=Path(self.experiments_dir),
            user=self.user,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # dbt subprocesses and MLflow read AURORA_HOME from the environment.
        os.environ["AURORA_HOME"] = self.home

    def spark(self) -> SparkSession:
        from aurora_pipelines.lake.spark import get_spark

        return get_spark(self.settings)

    def lake_path(self, experiment: str, *parts: str) -> Path:
        return self.settings.lake_dir.joinpath(experiment, *parts)

    def reports_path(self, experiment: str, *parts: str) -> Path:
        path = self.settings.reports_dir.joinpath(experiment, *parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def governance(self) -> GovernanceStore:
        from aurora_pipelines.governance.store import GovernanceStore

        return GovernanceStore.from_settings(self.settings)

    def artifact_store(self) -> ArtifactStore:
        from aurora_pipelines.deploy.artifact_store import artifact_store_from_url

        return artifact_store_from_url(self.artifact_url)

    def mlflow_artifacts_dir(self) -> Path:
        return self.settings.mlflow_artifacts_dir
