"""Gates and promotions: which model version a gate decides on (staging: the training
candidate train/model recorded; production: what staging serves), and moving it to an alias
only after its approval is re-verified (role, requester != approver, version, digest)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurora_pipelines.errors import GovernanceError, IntegrityError, NotFound
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
    strategy: str = "blue_green"
    role: str = "champion"  # the alias the version got (challenger/shadow for canary/shadow)
    deployment_id: int | None = None


def candidate_for_gate(
    tracking_uri: str,
    model_name: str,
    gate: Gate,
    *,
    governance: GovernanceStore,
    experiment: str | None = None,
) -> Candidate:
    """Staging decides on the version train/model recorded as the experiment's candidate;
    production on what staging serves. `experiment` defaults to the model name.

    The digest is recomputed from the artifacts, not read from a tag or the record, and must
    equal the digest recorded when train/model registered the version: tampering shows.
    """
    if gate == Gate.staging:
        experiment = experiment or model_name
        record = governance.latest_candidate(experiment, model_name)
        if record is None:
            raise NotFound(
                f"experiment '{experiment}' has no training candidate for model '{model_name}'; "
                "materialize train/model first (a version registered any other way is never "
                "a candidate)"
            )
        version = record.model_version
        digest = model_version_digest(tracking_uri, model_name, version)
        if digest != record.model_digest:
            raise IntegrityError(
                f"model '{model_name}' version {version}: its artifacts hash to {digest}, not "
                f"the {record.model_digest} train/model recorded (candidate #{record.id}); the "
                "artifact store was modified — retrain the experiment"
            )
        return Candidate(model_name=model_name, version=version, digest=digest)
    version = mlflow_registry.get_alias_version(tracking_uri, model_name, "staging")
    if version is None:
        raise NotFound(
            f"model '{model_name}' has no `staging` version; it must pass the staging "
            "gate before production"
        )
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
    model_card: Path | None = None,
    strategy: str = "blue_green",
    canary_share: float = 0.1,
) -> Deployment:
    """Bundle the approved version, point the gate's alias at it, and audit the promotion.

    Production with strategy `canary` (and a champion to compare with) makes the version the
    `challenger` at `canary_share`; `shadow` makes it the `shadow`; the first production
    version, and `blue_green`, become `champion` at once. Every deployment is recorded.
    """
    from aurora_pipelines.deploy import routing
    from aurora_pipelines.deploy.bundle import build_bundle

    verdict = governance.verify_approval(
        gate.value, candidate.model_name, candidate.version, candidate.digest
    )
    if not verdict.ok or verdict.request is None:
        raise GovernanceError(
            f"cannot promote {candidate.model_name} v{candidate.version} to {gate.value}: "
            f"{verdict.reason}"
        )
    approvals = [_approval_entry(verdict.request)]
    if gate == Gate.production:
        # The production bundle carries both sign-offs: validation (staging) and MRM.
        staging = governance.verify_approval(
            Gate.staging.value, candidate.model_name, candidate.version, candidate.digest
        )
        if staging.request is not None and staging.ok:
            approvals.insert(0, _approval_entry(staging.request))
    alias = GATES[gate].alias
    previous = mlflow_registry.get_alias_version(tracking_uri, candidate.model_name, alias)
    if gate == Gate.production and previous and previous != candidate.version:
        alias = {"canary": routing.CHALLENGER, "shadow": routing.SHADOW}.get(strategy, alias)
    else:
        strategy = "blue_green"
    bundle = build_bundle(
        tracking_uri=tracking_uri,
        model_name=candidate.model_name,
        version=candidate.version,
        expected_digest=candidate.digest,
        environment=gate.value,
        approvals=approvals,
        manifest_extra={
            "experiment": experiment,
            "approved_by": verdict.request.decided_by,
            "previous_version": previous,
            **(manifest_extra or {}),
        },
        model_card=model_card,
        store=store,
        deployed_by=actor,
        correlation_id=correlation_id,
    )
    mlflow_registry.set_alias(tracking_uri, candidate.model_name, alias, candidate.version)
    if alias == routing.CHAMPION and previous and previous != candidate.version:
        # The version we replace stays one command away.
        mlflow_registry.set_alias(tracking_uri, candidate.model_name, "fallback", previous)
    if gate == Gate.production:
        _set_share(tracking_uri, candidate.model_name, canary_share, strategy, alias)
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
    state = routing.read_routing(tracking_uri, candidate.model_name)
    record = governance.record_deployment(
        experiment=experiment,
        model_name=candidate.model_name,
        environment=gate.value,
        strategy=strategy,
        action="promote" if alias in (routing.CHAMPION, routing.STAGING) else f"{strategy}_start",
        deployed_by=actor,
        champion=state.champion if gate == Gate.production else candidate.version,
        challenger=state.challenger if gate == Gate.production else None,
        fallback=state.fallback if gate == Gate.production else None,
        shadow=state.shadow if gate == Gate.production else None,
        challenger_share=state.challenger_share if gate == Gate.production else 0.0,
        bundle_uri=bundle.uri,
        correlation_id=correlation_id,
        reason=f"{gate.value} approval #{verdict.request.id}: v{candidate.version} as {alias}",
        details={
            "approvals": approvals,
            "digest": candidate.digest,
            "manifest_digest": bundle.manifest_digest,
            "bundle_key": bundle.key,
        },
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
        strategy=strategy,
        role=alias,
        deployment_id=record.id,
    )


def _approval_entry(request: Any) -> dict[str, Any]:
    return {
        "id": request.id,
        "gate": request.gate,
        "requested_by": request.requested_by,
        "decided_by": request.decided_by,
        "decided_at": request.decided_at.isoformat() if request.decided_at else None,
        "approvers": request.approvers(),
    }


def _set_share(tracking_uri: str, name: str, share: float, strategy: str, alias: str) -> None:
    from mlflow import MlflowClient

    from aurora_pipelines.deploy import routing
    from aurora_pipelines.deploy.release import CANARY_STEP_STARTED_TAG

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    value = share if alias == routing.CHALLENGER else 0.0
    client.set_registered_model_tag(name, routing.CHALLENGER_SHARE_TAG, f"{value:g}")
    client.set_registered_model_tag(name, routing.DEPLOYMENT_STRATEGY_TAG, strategy)
    if alias == routing.CHALLENGER:
        from datetime import UTC, datetime

        now = datetime.now(UTC).isoformat(timespec="microseconds")
        client.set_registered_model_tag(name, CANARY_STEP_STARTED_TAG, now)
