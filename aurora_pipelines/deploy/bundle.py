"""Deployment bundles: an approved model version, verified, with a manifest saying what it is.

A bundle is a directory `bundles/<model>/<version>/` in an artifact store:

    manifest.json     model name/version, digest, environment, feature set + Delta version,
                      signature, decision threshold, approvals (ids, gates, approvers), who
                      deployed, correlation id, and the sha256 of every other file
    model/            the MLflow model version's artifacts, byte for byte
    model_card/       the model card directory (HTML, Markdown, plots, SHAP background), or
    model_card.<ext>  a single card file

It is built only if the registered artifacts still hash to the digest the approval was
given for, and every file is checked against its manifest again whenever it is fetched.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflow.models import Model

from aurora_pipelines.deploy.artifact_store import ArtifactStore
from aurora_pipelines.errors import IntegrityError, NotFound, SpecError
from aurora_pipelines.registry.digest import artifact_digest
from aurora_pipelines.registry.mlflow_registry import (
    FEATURE_TABLE_TAG,
    FEATURE_TABLE_VERSION_TAG,
    THRESHOLD_TAG,
    download_model,
    version_tags,
)

MANIFEST = "manifest.json"
MODEL_DIR = "model"
CARD_DIR = "model_card"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class BundleRef:
    """Where a bundle was stored and what its manifest says."""

    uri: str
    key: str
    manifest: dict[str, Any]
    manifest_digest: str = ""  # sha256 of manifest.json: pins the whole bundle (fetch_bundle)


def bundle_key(model_name: str, version: str, environment: str) -> str:
    """One bundle per environment, so promoting to production keeps the staging record."""
    return f"bundles/{model_name}/{version}/{environment}"


def build_bundle(
    *,
    tracking_uri: str,
    model_name: str,
    version: str,
    expected_digest: str,
    environment: str,
    manifest_extra: dict[str, Any],
    model_card: Path | None,
    store: ArtifactStore,
    deployed_by: str,
    correlation_id: str,
    approval_ids: Sequence[str] = (),
    approvals: Sequence[dict[str, Any]] = (),
) -> BundleRef:
    """Download, verify and store model `model_name`/`version` as a bundle.

    `model_card` is the card's file or its whole directory; `approvals` describe the approvals
    behind the deployment (id, gate, decided_by, ...). Raises IntegrityError (and stores
    nothing) if the registered artifacts no longer hash to `expected_digest` — the digest the
    approval was given for.
    """
    if model_card is not None and not Path(model_card).exists():
        raise NotFound(f"model card {model_card} does not exist; build it before deploying")
    tags = version_tags(tracking_uri, model_name, version)
    with tempfile.TemporaryDirectory(prefix="aurora-bundle-") as tmp:
        bundle = Path(tmp) / "bundle"
        bundle.mkdir()
        downloaded = download_model(tracking_uri, model_name, version, Path(tmp) / "download")
        shutil.move(str(downloaded), bundle / MODEL_DIR)
        digest = artifact_digest(bundle / MODEL_DIR)
        if digest != expected_digest:
            raise IntegrityError(
                f"model '{model_name}' version {version} hashes to {digest}, not the approved "
                f"{expected_digest}; its artifacts changed after approval — do not deploy it, "
                "re-register and re-approve the model"
            )
        signature = Model.load(str(bundle / MODEL_DIR)).signature
        threshold = tags.get(THRESHOLD_TAG)
        core = {
            "manifest_version": MANIFEST_VERSION,
            "model_name": model_name,
            "model_version": str(version),
            "digest": digest,
            "environment": environment,
            "feature_table": tags.get(FEATURE_TABLE_TAG),
            "feature_table_version": _int_or_none(tags.get(FEATURE_TABLE_VERSION_TAG)),
            "signature": signature.to_dict() if signature is not None else None,
            "decision_threshold": float(threshold) if threshold else None,
            "approvals": [dict(a) for a in approvals],
            "deployed_by": deployed_by,
            "correlation_id": correlation_id,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if model_card is not None and Path(model_card).is_dir():
            shutil.copytree(model_card, bundle / CARD_DIR)
            core["model_card"] = CARD_DIR
        elif model_card is not None:
            card_name = f"model_card{Path(model_card).suffix}"
            shutil.copy2(model_card, bundle / card_name)
            core["model_card"] = card_name
        core["files"] = _file_digests(bundle)
        ids = [str(a) for a in approval_ids] or [str(a["id"]) for a in approvals if "id" in a]
        # Extra fields never override the fields that identify and verify the bundle.
        manifest = {"approval_ids": ids, **manifest_extra, **core}
        (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        key = bundle_key(model_name, str(version), environment)
        manifest_digest = artifact_digest(bundle / MANIFEST)
        uri = store.put(bundle, key)
    return BundleRef(uri=uri, key=key, manifest=manifest, manifest_digest=manifest_digest)


def _file_digests(bundle: Path) -> dict[str, str]:
    """sha256 of every bundle file outside the model directory (which `digest` covers)."""
    return {
        path.relative_to(bundle).as_posix(): artifact_digest(path)
        for path in sorted(bundle.rglob("*"))
        if path.is_file() and path.relative_to(bundle).parts[0] not in (MODEL_DIR, MANIFEST)
    }


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def read_manifest(bundle_dir: Path) -> dict[str, Any]:
    path = Path(bundle_dir) / MANIFEST
    if not path.is_file():
        raise IntegrityError(f"bundle {bundle_dir} has no {MANIFEST}; rebuild the bundle")
    return json.loads(path.read_text())


def verify_bundle(bundle_dir: Path, expected_digest: str | None = None) -> dict[str, Any]:
    """The manifest of a local bundle, after checking its model files hash to its digest and
    every other file to its entry in the manifest's `files`."""
    manifest = read_manifest(bundle_dir)
    recorded = manifest.get("digest")
    if expected_digest is not None and recorded != expected_digest:
        raise IntegrityError(
            f"bundle {bundle_dir} is for digest {recorded}, not the expected {expected_digest}; "
            "deploy the bundle of the approved model version"
        )
    actual = artifact_digest(Path(bundle_dir) / MODEL_DIR)
    if actual != recorded:
        raise IntegrityError(
            f"bundle {bundle_dir}: model files hash to {actual}, but the manifest records "
            f"{recorded}; the bundle was modified — rebuild it from the registry"
        )
    _verify_files(Path(bundle_dir), manifest)
    return manifest


def _verify_files(bundle_dir: Path, manifest: dict[str, Any]) -> None:
    """Every non-model file (model card, ...) hashes to its manifest entry; none added or lost."""
    if "files" not in manifest:
        return  # bundles written before per-file digests
    recorded: dict[str, str] = manifest["files"]
    present = {
        p.relative_to(bundle_dir).as_posix()
        for p in bundle_dir.rglob("*")
        if p.is_file() and p.relative_to(bundle_dir).parts[0] not in (MODEL_DIR, MANIFEST)
    }
    if present != set(recorded):
        changed = sorted(present ^ set(recorded))
        raise IntegrityError(
            f"bundle {bundle_dir}: files {changed} were added or removed compared with its "
            "manifest; the bundle was modified — rebuild it from the registry"
        )
    for name, expected in sorted(recorded.items()):
        if artifact_digest(bundle_dir / name) != expected:
            raise IntegrityError(
                f"bundle {bundle_dir}: {name} does not hash to the digest in its manifest; "
                "the bundle was modified — rebuild it from the registry"
            )


def fetch_bundle(
    store: ArtifactStore,
    key: str,
    dest: Path,
    *,
    expected_digest: str | None = None,
    expected_manifest_digest: str | None = None,
) -> Path:
    """Download bundle `key` into `dest` and verify it; IntegrityError if it was tampered with.

    Pass `expected_digest` (the approved digest) to also pin which model the bundle holds:
    without it, a consistent but different bundle would pass. `expected_manifest_digest`
    (BundleRef.manifest_digest, kept in the deployment record) pins the manifest itself, so a
    rewritten manifest with matching file digests is caught too.
    """
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise SpecError(
            f"cannot fetch bundle into {dest}: the directory is not empty and stale files "
            "would mix with the bundle; use an empty directory"
        )
    store.get(key, dest)
    if expected_manifest_digest is not None:
        actual = artifact_digest(dest / MANIFEST)
        if actual != expected_manifest_digest:
            raise IntegrityError(
                f"bundle {key}: manifest.json hashes to {actual}, not the recorded "
                f"{expected_manifest_digest}; the manifest was rewritten — do not deploy it"
            )
    verify_bundle(dest, expected_digest)
    return dest
