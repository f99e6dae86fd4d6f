"""Dagster resources: one typed resource per swap point, chosen by deployment profile.

`spark` (SparkResource), `lake` (LakeResource), `registry` (MlflowRegistryResource),
`artifacts` (LocalArtifactStoreResource / S3ArtifactStoreResource), `governance`
(GovernanceResource) and `dbt`. The actor of a run is not a resource: it comes from the run's
tags (`aurora/actor`, else `dagster/user`; see `assets/metadata.py`).
"""

from aurora_pipelines.defs.resources.artifact_store import (
    ArtifactStoreResource,
    LocalArtifactStoreResource,
    S3ArtifactStoreResource,
)
from aurora_pipelines.defs.resources.governance import GovernanceResource
from aurora_pipelines.defs.resources.lake import LakeResource
from aurora_pipelines.defs.resources.profiles import RESOURCES_BY_DEPLOYMENT, build_resources
from aurora_pipelines.defs.resources.registry import MlflowRegistryResource
from aurora_pipelines.defs.resources.spark import SparkResource

__all__ = [
    "RESOURCES_BY_DEPLOYMENT",
    "ArtifactStoreResource",
    "GovernanceResource",
    "LakeResource",
    "LocalArtifactStoreResource",
    "MlflowRegistryResource",
    "S3ArtifactStoreResource",
    "SparkResource",
    "build_resources",
]
