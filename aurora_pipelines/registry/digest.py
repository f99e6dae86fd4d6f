"""Content digests of model artifacts: what an approval binds to and a bundle is checked against.

The digest covers every file of a model directory (relative path and bytes, in sorted
order), so renaming, adding, removing or editing any file changes it.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from aurora_pipelines.errors import NotFound

DIGEST_ALGORITHM = "sha256"
_CHUNK = 1 << 20


def artifact_digest(path: Path) -> str:
    """`sha256:<hex>` over the sorted relative paths and bytes of every file under `path`."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"cannot digest {path}: it does not exist")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        relative = file.name if file == path else file.relative_to(path).as_posix()
        # Length-prefix the path and the size so no two layouts can hash the same stream.
        digest.update(f"{len(relative)}:{relative}:{file.stat().st_size}:".encode())
        with file.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return f"{DIGEST_ALGORITHM}:{digest.hexdigest()}"


def download_version_artifacts(tracking_uri: str, name: str, version: str, dest: Path) -> Path:
    """Download model version `name`/`version` into `dest`; NotFound if it does not exist.

    Uses the version's storage location rather than `models:/name/version`, which adds a
    `registered_model_meta` file that is not part of the logged model.
    """
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        source = client.get_model_version_download_uri(name, str(version))
    except MlflowException as exc:
        raise NotFound(
            f"model '{name}' has no version {version} in {tracking_uri}; "
            "list versions with `aurora models list` or train the experiment first"
        ) from exc
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=source, dst_path=str(dest), tracking_uri=tracking_uri
    )
    return Path(local)


def model_version_digest(tracking_uri: str, name: str, version: str) -> str:
    """Download a registered model version's artifacts and digest them."""
    with tempfile.TemporaryDirectory(prefix="aurora-digest-") as tmp:
        return artifact_digest(download_version_artifacts(tracking_uri, name, version, Path(tmp)))
