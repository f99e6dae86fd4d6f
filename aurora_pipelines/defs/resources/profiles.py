"""Resources per deployment profile, chosen by AURORA_DEPLOYMENT (`local` by default).

Both profiles run the same code; they differ only in which backend each swap point gets.
Values that may carry credentials (database URLs) are `dg.EnvVar`s, so Dagster shows the
variable's name in the UI and reads the value only when a run starts.

- `local`: the embedded default. Spark `local[2]`, SQLite for MLflow and governance under
  AURORA_HOME, a local artifact directory; an AURORA_* variable that is set still wins.
- `cluster`: AURORA_SPARK_MASTER, AURORA_METASTORE_URL, AURORA_MLFLOW_TRACKING_URI,
  AURORA_GOVERNANCE_URL, AURORA_AUDIT_HEAD and an `s3://bucket/prefix` AURORA_ARTIFACT_URL are
  required, and the policy must not say `identity: trust_env` (a shared deployment believes
  tokens, never AURORA_USER). Each run executes its steps in its run worker's process: one
  Spark driver per run instead of a JVM start per step (deploy/cluster/stack.py runs them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource

from aurora_pipelines.defs.resources.artifact_store import (
    ArtifactStoreResource,
    LocalArtifactStoreResource,
    S3ArtifactStoreResource,
)
from aurora_pipelines.defs.resources.governance import GovernanceResource
from aurora_pipelines.defs.resources.lake import LakeResource
from aurora_pipelines.defs.resources.registry import MlflowRegistryResource
from aurora_pipelines.defs.resources.spark import SparkResource
from aurora_pipelines.deploy.artifact_store import DEFAULT_MULTIPART_THRESHOLD, env_int
from aurora_pipelines.errors import SpecError
from aurora_pipelines.lake.dbt_manifest import dbt_executable
from aurora_pipelines.settings import Settings

MIB = 1024 * 1024
DEPLOYMENT_VARIABLE = "AURORA_DEPLOYMENT"
CLUSTER_REQUIRED = (
    "AURORA_SPARK_MASTER",
    # Every run worker is its own Spark driver: the catalog must be a shared database.
    "AURORA_METASTORE_URL",
    "AURORA_MLFLOW_TRACKING_URI",
    "AURORA_GOVERNANCE_URL",
    # The audit chain's head outside the governance database, so a rewrite of both is needed
    # to hide an edit (the SQLite default keeps it next to the file; PostgreSQL has no "next").
    "AURORA_AUDIT_HEAD",
    "AURORA_ARTIFACT_URL",
)


def _from_env(name: str, value: str | None) -> Any:
    """`dg.EnvVar(name)` when `value` came from that variable, so the value (which may hold a
    password) stays out of the resource config; a value set in code (tests) stays as it is."""
    return dg.EnvVar(name) if value is not None and os.environ.get(name) == value else value


def _artifact_store(url: str) -> ArtifactStoreResource:
    if url.startswith("s3://"):
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise SpecError(f"artifact store URL '{url}' has no bucket; use s3://bucket/prefix")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return S3ArtifactStoreResource(
            bucket=bucket,
            prefix=prefix,
            endpoint_url=endpoint,
            max_attempts=env_int("AURORA_S3_MAX_ATTEMPTS", 8),
            multipart_threshold_bytes=env_int(
                "AURORA_S3_MULTIPART_THRESHOLD_MB", DEFAULT_MULTIPART_THRESHOLD, MIB
            ),
        )
    return LocalArtifactStoreResource(root=url.removeprefix("file://"))


def _common(settings: Settings) -> dict[str, Any]:
    return {
        "lake": LakeResource(home=str(settings.root)),
        "dbt": DbtCliResource(
            project_dir=str(settings.dbt_project_dir),
            profiles_dir=str(settings.dbt_project_dir),
            target=settings.dbt_target,
            dbt_executable=dbt_executable(),
        ),
    }


def local_resources(settings: Settings) -> dict[str, Any]:
    home = str(settings.root)
    return {
        **_common(settings),
        "spark": SparkResource(master=settings.spark_master, home=home),
        "registry": MlflowRegistryResource(
            tracking_uri=_from_env("AURORA_MLFLOW_TRACKING_URI", settings.tracking_uri),
            artifact_root=str(settings.mlflow_artifacts_dir),
        ),
        "governance": GovernanceResource(
            home=home,
            policy_path=str(settings.policy),
            url=_from_env("AURORA_GOVERNANCE_URL", settings.governance_url),
        ),
        "artifacts": _artifact_store(settings.artifact_store_url),
    }


def cluster_resources(settings: Settings) -> dict[str, Any]:
    missing = [name for name in CLUSTER_REQUIRED if not os.environ.get(name)]
    if missing:
        raise SpecError(
            f"{DEPLOYMENT_VARIABLE}=cluster needs {', '.join(missing)}; set them (see README, "
            "'Deployment profiles') or use AURORA_DEPLOYMENT=local"
        )
    _refuse_trust_env(settings)
    if not settings.artifact_store_url.startswith("s3://"):
        raise SpecError(
            f"{DEPLOYMENT_VARIABLE}=cluster needs an object store for bundles: "
            f"AURORA_ARTIFACT_URL={settings.artifact_store_url!r} is not s3://bucket/prefix"
        )
    home = str(settings.root)
    return {
        **_common(settings),
        "spark": SparkResource(master=dg.EnvVar("AURORA_SPARK_MASTER"), home=home),
        "registry": MlflowRegistryResource(
            tracking_uri=dg.EnvVar("AURORA_MLFLOW_TRACKING_URI"),
            artifact_root=str(settings.mlflow_artifacts_dir),
        ),
        "governance": GovernanceResource(
            home=home, policy_path=str(settings.policy), url=dg.EnvVar("AURORA_GOVERNANCE_URL")
        ),
        "artifacts": _artifact_store(settings.artifact_store_url),
    }


def _refuse_trust_env(settings: Settings) -> None:
    from aurora_pipelines.governance.policy import load_policy

    if load_policy(settings.policy).trusts_env:
        raise SpecError(
            f"{DEPLOYMENT_VARIABLE}=cluster refuses policy {settings.policy}: it says "
            "`identity: trust_env`, which believes AURORA_USER (a laptop demo only); point "
            "AURORA_POLICY at a policy with `identity: token` and give each person a token"
        )


RESOURCES_BY_DEPLOYMENT: dict[str, Callable[[Settings], dict[str, Any]]] = {
    "local": local_resources,
    "cluster": cluster_resources,
}


def deployment_name() -> str:
    name = os.environ.get(DEPLOYMENT_VARIABLE, "local")
    if name not in RESOURCES_BY_DEPLOYMENT:
        raise SpecError(
            f"{DEPLOYMENT_VARIABLE}={name!r} is not a deployment profile; use one of "
            f"{', '.join(RESOURCES_BY_DEPLOYMENT)}"
        )
    return name


def build_executor(deployment: str | None = None) -> dg.ExecutorDefinition:
    """Each run's steps run in its run worker, on every profile: one Spark driver per run (a
    driver costs a JVM start and, on a cluster, an executor allocation), and the embedded Hive
    metastore (Derby) admits one JVM, so multiprocess steps would each start their own."""
    del deployment  # the same on every profile; kept for callers that name one
    return dg.in_process_executor


def build_resources(settings: Settings, deployment: str | None = None) -> dict[str, Any]:
    """The resources of `deployment` (default: AURORA_DEPLOYMENT, else `local`)."""
    return RESOURCES_BY_DEPLOYMENT[deployment or deployment_name()](settings)
