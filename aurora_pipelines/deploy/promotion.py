"""Gates and promotions: which model version a gate decides on, and moving it to an alias
only after its approval is re-verified (role, requester != approver, version, digest)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aurora_pipelines.errors import GovernanceError, NotFound
from aurora_pipelines.lifecycle import GATES, Gate
from aurora_pipelines.registry import mlflow_registry
from aurora_pipelines.registry.digest import model_version_digest

if TYPE_CHECKING:
    from aurora_pipelines.deploy.artifact_store import ArtifactStore
    from aurora_pipelines.governance.store import GovernanceStore


@dataclass(frozen=True)
class Candidate:
    """The exact model a gate decides on: name, version and the digest of its artifacts."""

    model_name: str
    version: str
    digest: str


@dataclass(frozen=True)
class Deployment:
    gate: Gate
    alias: str
    model_name: str
    version: str
    digest: str
    bundle_uri: str
    previous_version: str | None
    approval_id: int


def candidate_for_gate(tracking_uri: str, model_name: str, gate: Gate) -> Candidate:
    """Staging decides on the newest registered version; production on what staging serves."""
    if gate == Gate.staging:
        latest = mlflow_registry.latest_version(tracking_uri, model_name)
        if latest is None:
            raise NotFound(f"model '{model_name}' has no registered version; train it first")
        version = str(latest.version)
    else:
        version = mlflow_registry.get_alias_version(tracking_uri, model_name, "staging")
        if version is None:
            raise NotFound(
                f"model '{model_name}' has no `staging` version; it must pass the staging "
                "gate before production"
            )
    # The digest is recomputed from the artifacts, not read from a tag: tampering shows.
    digest = model_version_digest(tracking_uri, model_name, version)
    return Candidate(model_name=model_name, version=version, digest=digest)


def promote(
    *,
    gate: Gate,
    experiment: str,
    candidate: Candidate,
    governance: GovernanceStore,
    store: ArtifactStore,
    tracking_uri: str,
    actor: str,
    correlation_id: str,
    manifest_extra: dict[str, Any] | None = None,
) -> Deployment:
    """Bundle the approved version, point the gate's alias at it, and audit the promotion."""
    from aurora_pipelines.deploy.bundle import build_bundle

    verdict = governance.verify_approval(
        gate.value, candidate.model_name, candidate.version, candidate.digest
    )
    if not verdict.ok or verdict.request is None:
        raise GovernanceError(
            f"cannot promote {candidate.model_name} v{candidate.version} to {gate.value}: "
            f"{verdict.reason}"
        )
    alias = GATES[gate].alias
    previous = mlflow_registry.get_alias_version(tracking_uri, candidate.model_name, alias)
    bundle = build_bundle(
        tracking_uri=tracking_uri,
        model_name=candidate.model_name,
        version=candidate.version,
        expected_digest=candidate.digest,
        environment=gate.value,
        approval_ids=[str(verdict.request.id)],
        manifest_extra={
            "experiment": experiment,
            "approved_by": verdict.request.decided_by,
            "previous_version": previous,
            **(manifest_extra or {}),
        },
        model_card=None,
        store=store,
        deployed_by=actor,
        correlation_id=correlation_id,
    )
    mlflow_registry.set_alias(tracking_uri, candidate.model_name, alias, candidate.version)
    if gate == Gate.production and previous and previous != candidate.version:
        # The version we replace stays one command away.
        mlflow_registry.set_alias(tracking_uri, candidate.model_name, "fallback", previous)
    governance.audit(
        "promotion",
        actor=actor,
        target=f"{candidate.model_name}/{candidate.version}",
        details={
            "gate": gate.value,
            "alias": alias,
            "digest": candidate.digest,
            "bundle": bundle.uri,
            "approval_id": verdict.request.id,
            "previous_version": previous,
        },
        correlation_id=correlation_id,
    )
    return Deployment(
        gate=gate,
        alias=alias,
        model_name=candidate.model_name,
        version=candidate.version,
        digest=candidate.digest,
        bundle_uri=bundle.uri,
        previous_version=previous,
        approval_id=verdict.request.id,
    )
