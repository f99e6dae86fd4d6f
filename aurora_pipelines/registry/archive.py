"""A model version as one downloadable zip, and its offline verification.

The archive holds everything a reviewer or another platform needs about one registered
version: the MLflow model directory (skops model, MLmodel, signature), its model card, UAT
report, the experiment's EDA profile, the training leaderboard, and `manifest.json` with the
sha256 of every other file. `verify_archive` recomputes them: an edited, missing or added
file fails verification. Only members of the experiment's team (or admins) may download a
version; a refusal is audited as `access_denied` before it is raised.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurora_pipelines.errors import IntegrityError, NotFound, PermissionDenied

if TYPE_CHECKING:
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.settings import Settings
    from aurora_pipelines.specs import ExperimentSpec

MANIFEST = "manifest.json"
FORMAT = "aurora-model-archive/1"
AUDIT_DOWNLOAD = "model_downloaded"
AUDIT_DENIED = "access_denied"


class ArchiveDenied(PermissionDenied):
    """The caller's team may not read this experiment's models (audited)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_read_access(
    store: GovernanceStore, caller: str, spec: ExperimentSpec, target: str, correlation: str | None
) -> None:
    """ArchiveDenied (audited) unless `caller` is in the experiment's team or an admin."""
    user = {u.name: u for u in store.policy.users}.get(caller)
    if user is not None and (user.team == spec.team or "admin" in user.roles):
        return
    reason = (
        f"unknown identity '{caller}'"
        if user is None
        else f"'{caller}' is in team '{user.team}', not '{spec.team}'"
    )
    store.audit(
        AUDIT_DENIED,
        caller,
        target,
        {"team": spec.team, "reason": reason, "experiment": spec.name, "action": "download"},
        correlation,
    )
    raise ArchiveDenied(
        f"{reason}, so it may not download models of experiment '{spec.name}'; ask an admin "
        f"to add the caller to team '{spec.team}' in the governance policy"
    )


def _copy_tree(source: Path, dest: Path) -> list[Path]:
    copied = []
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        copied.append(target)
    return copied


def resolve_version(tracking_uri: str, name: str, version: str | None) -> str:
    """`version`, or the newest registered version; NotFound naming the model."""
    from aurora_pipelines.registry.mlflow_registry import get_model_version, latest_version

    if version is None:
        newest = latest_version(tracking_uri, name)
        if newest is None:
            raise NotFound(f"model '{name}' has no registered version; train it first")
        return newest.version
    return get_model_version(tracking_uri, name, str(version)).version


def build_archive(
    settings: Settings,
    store: GovernanceStore,
    spec: ExperimentSpec,
    *,
    caller: str,
    version: str | None,
    out: Path,
    correlation_id: str | None = None,
) -> ArchiveManifest:
    """Write the zip of `spec`'s model `version` (None: newest) to `out`, for `caller`."""
    from mlflow import MlflowClient

    from aurora_pipelines.deploy.uat import uat_report_dir
    from aurora_pipelines.explain.generate import model_card_dir
    from aurora_pipelines.registry.mlflow_registry import download_model, get_model_version

    name = spec.name
    target = f"model:{name}" + (f"/v{version}" if version else "")
    check_read_access(store, caller, spec, target, correlation_id)
    tracking = settings.tracking_uri
    version = resolve_version(tracking, name, version)
    registered = get_model_version(tracking, name, version)
    reports = settings.reports_dir
    sections: dict[str, Path] = {
        "model_card": model_card_dir(reports, name, version),
        "uat": uat_report_dir(reports, name, version),
        "profile": reports / name / "eda",
    }
    with tempfile.TemporaryDirectory(prefix="aurora-archive-") as tmp:
        root = Path(tmp) / "archive"
        _copy_tree(download_model(tracking, name, version, Path(tmp) / "download"), root / "model")
        present, missing = ["model"], []
        for section, source in sections.items():
            if source.is_dir() and any(source.iterdir()):
                _copy_tree(source, root / section)
                present.append(section)
            else:
                missing.append(section)
        client = MlflowClient(tracking_uri=tracking, registry_uri=tracking)
        try:
            board = client.download_artifacts(registered.run_id, "leaderboard.json", tmp)
            (root / "leaderboard.json").write_bytes(Path(board).read_bytes())
            present.append("leaderboard")
        except Exception:  # a run logged without one (MLflow raises its own error types)
            missing.append("leaderboard")
        files = {
            p.relative_to(root).as_posix(): _sha256(p)
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }
        manifest = ArchiveManifest(
            format=FORMAT,
            experiment=name,
            team=spec.team,
            model_name=name,
            model_version=version,
            model_digest=registered.digest,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            created_by=caller,
            sections=present,
            missing=missing,
            files=files,
        )
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for relative in files:
                archive.write(root / relative, relative)
            archive.writestr(MANIFEST, json.dumps(manifest.as_dict(), indent=2))
        partial.replace(out)  # nothing half-written under the requested name
    store.audit(
        AUDIT_DOWNLOAD,
        caller,
        f"model:{name}/v{version}",
        {"experiment": name, "digest": registered.digest, "files": len(files)},
        correlation_id,
    )
    return manifest


@dataclass
class ArchiveManifest:
    format: str
    experiment: str
    team: str
    model_name: str
    model_version: str
    model_digest: str
    created_at: str
    created_by: str
    sections: list[str]
    missing: list[str]
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Verification:
    """What `verify_archive` found: every listed file's hash, and files not listed."""

    path: Path
    manifest: dict[str, Any]
    checked: int
    mismatched: list[str]
    absent: list[str]
    unlisted: list[str]

    @property
    def ok(self) -> bool:
        return not (self.mismatched or self.absent or self.unlisted)


def verify_archive(path: Path) -> Verification:
    """Recompute the sha256 of every file in the zip against its manifest."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no archive at {path}; pass the zip `aurora models download` wrote")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise IntegrityError(f"{path} is not a zip archive ({exc})") from None
    with archive:
        names = set(archive.namelist())
        if MANIFEST not in names:
            raise IntegrityError(f"{path} has no {MANIFEST}: not an Aurora model archive")
        manifest = json.loads(archive.read(MANIFEST))
        if manifest.get("format") != FORMAT:
            raise IntegrityError(f"{path}: unknown archive format {manifest.get('format')!r}")
        listed: dict[str, str] = manifest.get("files", {})
        mismatched, absent = [], []
        for name, expected in listed.items():
            if name not in names:
                absent.append(name)
            elif hashlib.sha256(archive.read(name)).hexdigest() != expected:
                mismatched.append(name)
        unlisted = sorted(n for n in names - set(listed) - {MANIFEST} if not n.endswith("/"))
    return Verification(path, manifest, len(listed), mismatched, absent, unlisted)
