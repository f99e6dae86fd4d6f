"""Spec versions: every change of an experiment's spec is a numbered version with its content
hash, author, time, the diff from the previous version and the code's git commit."""

from __future__ import annotations

import difflib
import functools
import hashlib
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import yaml

from aurora_pipelines.governance import audit
from aurora_pipelines.governance.rows import row_data
from aurora_pipelines.workspace.tables import experiment_versions

if TYPE_CHECKING:
    from aurora_pipelines.specs import ExperimentSpec

SPEC_VERSION_RECORDED = "spec_version_recorded"
# Tags on every MLflow run and model version train/model produces.
SPEC_VERSION_TAG = "aurora.spec_version"
SPEC_HASH_TAG = "aurora.spec_hash"
GIT_COMMIT_TAG = "aurora.git_commit"


@dataclass(frozen=True)
class SpecVersion:
    experiment: str
    version: int
    content_hash: str
    author: str
    created_at: datetime
    diff: str
    git_commit: str | None
    note: str
    spec_yaml: str

    def to_dict(self, *, with_spec: bool = False) -> dict[str, Any]:
        data = {
            "experiment": self.experiment,
            "version": self.version,
            "content_hash": self.content_hash,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "git_commit": self.git_commit,
            "note": self.note,
            "diff": self.diff,
        }
        if with_spec:
            data["spec"] = self.spec_yaml
        return data


def canonical_yaml(spec: ExperimentSpec) -> str:
    """The spec as written to its file (defaults left out), keys sorted: what is hashed."""
    return yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True), sort_keys=True)


def content_hash(spec: ExperimentSpec) -> str:
    return hashlib.sha256(canonical_yaml(spec).encode()).hexdigest()


@functools.cache
def code_commit() -> str | None:
    """The git commit of the code that runs (None outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _version(row: sa.Row) -> SpecVersion:
    data = row_data(row, "created_at")
    return SpecVersion(
        experiment=data["experiment"],
        version=data["version"],
        content_hash=data["content_hash"],
        author=data["author"],
        created_at=data["created_at"],
        diff=data["diff"],
        git_commit=data["git_commit"],
        note=data["note"] or "",
        spec_yaml=data["spec_yaml"],
    )


def latest_version(engine: sa.Engine, experiment: str) -> SpecVersion | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(experiment_versions)
            .where(experiment_versions.c.experiment == experiment)
            .order_by(experiment_versions.c.version.desc())
            .limit(1)
        ).first()
    return _version(row) if row else None


def history(engine: sa.Engine, experiment: str) -> list[SpecVersion]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(experiment_versions)
            .where(experiment_versions.c.experiment == experiment)
            .order_by(experiment_versions.c.version)
        ).all()
    return [_version(r) for r in rows]


def record_version(
    engine: sa.Engine,
    spec: ExperimentSpec,
    author: str,
    note: str = "",
    correlation_id: str | None = None,
) -> tuple[SpecVersion, bool]:
    """(the spec's version, whether it is new): an unchanged spec keeps its number."""
    text = canonical_yaml(spec)
    digest = hashlib.sha256(text.encode()).hexdigest()

    def work(conn: sa.Connection) -> tuple[SpecVersion, bool]:
        previous = conn.execute(
            sa.select(experiment_versions)
            .where(experiment_versions.c.experiment == spec.name)
            .order_by(experiment_versions.c.version.desc())
            .limit(1)
        ).first()
        if previous is not None and previous.content_hash == digest:
            return _version(previous), False
        before = previous.spec_yaml if previous is not None else ""
        number = 1 if previous is None else previous.version + 1
        diff = "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"{spec.name}@v{number - 1}" if previous else "/dev/null",
                tofile=f"{spec.name}@v{number}",
            )
        )
        values = {
            "experiment": spec.name,
            "version": number,
            "content_hash": digest,
            "author": author,
            "git_commit": code_commit(),
            "note": note[:500],
        }
        entry = audit.append_audit(
            conn,
            SPEC_VERSION_RECORDED,
            author,
            f"experiment/{spec.name}",
            {k: v for k, v in values.items() if k != "author"},
            correlation_id,
        )
        conn.execute(
            sa.insert(experiment_versions).values(
                **values,
                spec_yaml=text,
                diff=diff,
                created_at=datetime.now(UTC),
                audit_seq=entry["seq"],
            )
        )
        row = conn.execute(
            sa.select(experiment_versions).where(
                experiment_versions.c.experiment == spec.name,
                experiment_versions.c.version == number,
            )
        ).one()
        return _version(row), True

    return audit.transact(engine, work)


def version_tags(version: SpecVersion) -> dict[str, str]:
    """MLflow tags tying a run or model version to the spec version and code it came from."""
    tags = {SPEC_VERSION_TAG: str(version.version), SPEC_HASH_TAG: version.content_hash}
    if version.git_commit:
        tags[GIT_COMMIT_TAG] = version.git_commit
    return tags
