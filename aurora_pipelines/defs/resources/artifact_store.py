"""Artifact stores as resources: one class per backend over `deploy/artifact_store.py`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import dagster as dg
from pydantic import Field

from aurora_pipelines.deploy.artifact_store import (
    DEFAULT_MULTIPART_THRESHOLD,
    ArtifactStore,
    LocalArtifactStore,
    S3ArtifactStore,
)


class ArtifactStoreResource(dg.ConfigurableResource, ABC):
    """Where deployment bundles go."""

    @abstractmethod
    def store(self) -> ArtifactStore: ...


class LocalArtifactStoreResource(ArtifactStoreResource):
    root: str = Field(description="A local (or mounted) directory.")

    def store(self) -> ArtifactStore:
        return LocalArtifactStore(Path(self.root))


class S3ArtifactStoreResource(ArtifactStoreResource):
    """S3 or any S3-compatible store; credentials come from boto3's own chain (environment,
    instance profile), never from this config."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = Field(default=None, description="e.g. a MinIO or moto server")
    max_attempts: int = 8
    multipart_threshold_bytes: int = DEFAULT_MULTIPART_THRESHOLD

    def store(self) -> ArtifactStore:
        return S3ArtifactStore(
            self.bucket,
            self.prefix,
            endpoint_url=self.endpoint_url,
            max_attempts=self.max_attempts,
            multipart_threshold=self.multipart_threshold_bytes,
        )
