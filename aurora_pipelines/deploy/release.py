"""Production release strategies: blue/green promote and rollback, canary, shadow.

Each action moves MLflow aliases (what the scoring service reads, so traffic follows without a
restart), stores a deployment record and audits it. Only release managers and admins may act
(roles from the governance policy); a refusal raises PermissionDenied and is audited. A version
gets production traffic only if the production approval for its exact digest verifies now.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from aurora_pipelines.deploy import routing
from aurora_pipelines.deploy.records import DeploymentRecord
from aurora_pipelines.deploy.routing import RoutingState, read_routing
from aurora_pipelines.errors import GovernanceError, NotFound, PermissionDenied, SpecError
from aurora_pipelines.governance import audit
from aurora_pipelines.registry.sql_registry import SqlRegistry, sql_registry

if TYPE_CHECKING:  # MLflow costs seconds to import: only the MlflowClient path pays for it
    from mlflow import MlflowClient

    from aurora_pipelines.deploy.artifact_store import ArtifactStore
    from aurora_pipelines.governance.store import GovernanceStore

RELEASE_ROLES = ("release_manager", "admin")
PRODUCTION = "production"
# When the current canary step began (ISO time): the controller's comparison window starts here.
CANARY_STEP_STARTED_TAG = "aurora.canary_step_started_at"


@dataclass(frozen=True)
class ReleaseContext:
    """Who acts, on which stores, under which correlation id."""

    tracking_uri: str
    governance: GovernanceStore
    actor: str
    correlation_id: str
    experiment: str
    model_name: str
    # Where bundles live; when set, a version is deployed only if its bundle verifies.
    store: ArtifactStore | None = None

    @cached_property
    def client(self) -> MlflowClient:
        """One registry client per context: creating one on a SQLite store costs ~1 s."""
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    @cached_property
    def sql(self) -> SqlRegistry | None:
        """The direct SQL path to the registry when it applies (no MLflow import, one
        transaction per routing change); None: go through `client`."""
        return sql_registry(self.tracking_uri)

    def routing(self) -> RoutingState:
        if self.sql is not None:
            return read_routing(self.tracking_uri, self.model_name)
        return read_routing(self.tracking_uri, self.model_name, self.client)


def authorize(ctx: ReleaseContext, action: str) -> None:
    """PermissionDenied (audited as access_denied) unless the actor is a release manager/admin."""
    policy = ctx.governance.policy
    try:
        user = policy.user(ctx.actor)
        if not user.has_any_role(RELEASE_ROLES):
            allowed = [u.name for u in policy.users if u.has_any_role(RELEASE_ROLES)]
            raise PermissionDenied(
                f"{ctx.actor} (roles: {', '.join(user.roles)}) may not {action} a deployment; "
                f"it needs the {' or '.join(RELEASE_ROLES)} role — ask "
                f"{', '.join(allowed) or 'an admin to add one to the policy'}"
            )
    except PermissionDenied as exc:
        ctx.governance.audit(
            audit.ACCESS_DENIED,
            actor=ctx.actor or "<anonymous>",
            target=f"model/{ctx.model_name}@{PRODUCTION}",
            details={"action": f"deploy_{action}", "reason": str(exc)},
            correlation_id=ctx.correlation_id,
        )
        raise


def _move(
    ctx: ReleaseContext, aliases: dict[str, str | None], tags: dict[str, str] | None = None
) -> None:
    """Point the aliases at their versions (None removes one) and set the routing tags: one
    transaction on the SQL path, else MlflowClient calls in this order."""
    if ctx.sql is not None:
        ctx.sql.apply(ctx.model_name, aliases, tags)
        return
    from mlflow.exceptions import MlflowException

    client = ctx.client
    for alias, version in aliases.items():
        if version is None:
            with contextlib.suppress(MlflowException):  # already unset
                client.delete_registered_model_alias(ctx.model_name, alias)
        else:
            client.set_registered_model_alias(ctx.model_name, alias, str(version))
    for key, value in (tags or {}).items():
        client.set_registered_model_tag(ctx.model_name, key, value)


def verify_bundle_for(ctx: ReleaseContext, version: str, digest: str) -> str | None:
    """Download the version's bundle (production, else staging) and verify its manifest against
    the digest recorded when a promotion built it, and every file against the approved digest;
    IntegrityError (audited) refuses the deployment. Its URI, or None when the context has no
    artifact store.

    Without the recorded manifest digest a rewritten manifest (new file hashes, same model
    bytes: another threshold, another card) would verify; a bundle no promotion recorded is
    refused for the same reason.
    """
    import tempfile
    from pathlib import Path

    from aurora_pipelines.deploy.bundle import bundle_key, fetch_bundle
    from aurora_pipelines.deploy.records import recorded_manifest_digest
    from aurora_pipelines.errors import IntegrityError

    if ctx.store is None:
        return None
    keys = [bundle_key(ctx.model_name, version, env) for env in (PRODUCTION, "staging")]
    key = next((k for k in keys if ctx.store.exists(f"{k}/manifest.json")), None)
    if key is None:
        raise NotFound(
            f"no deployment bundle for model '{ctx.model_name}' version {version} in "
            f"{ctx.store.uri('bundles')}; deploy it to staging first (deploy/staging builds it)"
        )
    manifest_digest = recorded_manifest_digest(ctx.governance.list_deployments(ctx.model_name), key)
    try:
        if manifest_digest is None:
            raise IntegrityError(
                f"bundle {ctx.store.uri(key)} has no recorded manifest digest (no deployment "
                "record built it), so it cannot be verified; rebuild it through deploy/staging"
            )
        with tempfile.TemporaryDirectory(prefix="aurora-verify-") as tmp:
            fetch_bundle(
                ctx.store,
                key,
                Path(tmp) / "bundle",
                expected_digest=digest,
                expected_manifest_digest=manifest_digest,
            )
    except IntegrityError as exc:
        ctx.governance.audit(
            "deployment_refused",
            actor=ctx.actor,
            target=f"model/{ctx.model_name}/{version}@{PRODUCTION}",
            details={"bundle": ctx.store.uri(key), "reason": str(exc)},
            correlation_id=ctx.correlation_id,
        )
        raise
    return ctx.store.uri(key)


def verify_production_approval(ctx: ReleaseContext, version: str) -> int:
    """The id of the production approval that covers `version`'s current digest, else refuse.

    The digest is recomputed from the registered artifacts, as the promotion gate does: an
    approval covers exactly the bytes that were reviewed.
    """
    from aurora_pipelines.registry.digest import model_version_digest

    digest = model_version_digest(ctx.tracking_uri, ctx.model_name, version)
    verdict = ctx.governance.verify_approval(PRODUCTION, ctx.model_name, version, digest)
    if verdict.ok and verdict.request is not None:
        verify_bundle_for(ctx, version, digest)
    else:
        ctx.governance.audit(
            audit.ACCESS_DENIED,
            actor=ctx.actor,
            target=f"model/{ctx.model_name}/{version}@{PRODUCTION}",
            details={"action": "deploy", "reason": verdict.reason},
            correlation_id=ctx.correlation_id,
        )
        raise GovernanceError(
            f"model '{ctx.model_name}' version {version} cannot serve production traffic: "
            f"{verdict.reason}"
        )
    return verdict.request.id


def _staging_version(ctx: ReleaseContext) -> str | None:
    if ctx.sql is not None:
        return ctx.sql.alias_version(ctx.model_name, routing.STAGING)
    from mlflow.exceptions import MlflowException

    try:
        return str(ctx.client.get_model_version_by_alias(ctx.model_name, routing.STAGING).version)
    except MlflowException:
        return None


def _candidate(ctx: ReleaseContext, state: RoutingState, version: str | None) -> str:
    """An explicit version, else the challenger, else the version staging serves."""
    if version:
        return str(version)
    if state.challenger:
        return state.challenger
    staged = _staging_version(ctx)
    if staged is None:
        raise NotFound(
            f"model '{ctx.model_name}' has no challenger and no `staging` version to deploy; "
            "pass --version or take a version through the staging gate first"
        )
    return staged


def _record(
    ctx: ReleaseContext,
    action: str,
    strategy: str,
    *,
    reason: str | None = None,
    details: dict | None = None,
) -> DeploymentRecord:
    state = ctx.routing()
    return ctx.governance.record_deployment(
        experiment=ctx.experiment,
        model_name=ctx.model_name,
        environment=PRODUCTION,
        strategy=strategy,
        action=action,
        deployed_by=ctx.actor,
        champion=state.champion,
        challenger=state.challenger,
        fallback=state.fallback,
        shadow=state.shadow,
        challenger_share=state.challenger_share,
        correlation_id=ctx.correlation_id,
        reason=reason,
        details=details,
    )


def _routing_tags(share: float, strategy: str) -> dict[str, str]:
    from datetime import UTC, datetime

    return {
        routing.CHALLENGER_SHARE_TAG: f"{share:g}",
        routing.DEPLOYMENT_STRATEGY_TAG: strategy,
        CANARY_STEP_STARTED_TAG: datetime.now(UTC).isoformat(timespec="microseconds"),
    }


def promote(
    ctx: ReleaseContext,
    version: str | None = None,
    *,
    strategy: str = "blue_green",
    action: str = "promote",
    reason: str | None = None,
    verify: bool = True,
) -> DeploymentRecord:
    """Blue/green: the version takes all traffic at once; the old champion becomes fallback."""
    state = ctx.routing()
    target = _candidate(ctx, state, version)
    approval_id = verify_production_approval(ctx, target) if verify else None
    previous = state.champion
    aliases: dict[str, str | None] = {routing.CHAMPION: target}
    if previous and previous != target:
        aliases[routing.FALLBACK] = previous
    if state.challenger:
        aliases[routing.CHALLENGER] = None
    _move(ctx, aliases, _routing_tags(0.0, strategy))
    return _record(
        ctx,
        action,
        strategy,
        reason=reason or f"v{target} takes all traffic (was v{previous or '-'})",
        details={"approval_id": approval_id, "previous_champion": previous},
    )


def rollback(ctx: ReleaseContext, reason: str | None = None) -> DeploymentRecord:
    """Champion <- fallback at once; the rolled-back version serves no more traffic.

    No digest is recomputed: the fallback was verified when it became champion, and a rollback
    must be fast. The fallback alias is cleared (it now is the champion).
    """
    state = ctx.routing()
    if not state.fallback:
        raise NotFound(
            f"model '{ctx.model_name}' has no fallback version to roll back to "
            f"(champion: v{state.champion or '-'}); promote a production-approved version instead"
        )
    aliases: dict[str, str | None] = {routing.CHAMPION: state.fallback, routing.FALLBACK: None}
    if state.challenger:
        aliases[routing.CHALLENGER] = None
    _move(ctx, aliases, _routing_tags(0.0, "blue_green"))
    return _record(
        ctx,
        "rollback",
        "blue_green",
        reason=reason or f"rolled back v{state.champion} to v{state.fallback}",
        details={"rolled_back_version": state.champion},
    )


def start_canary(ctx: ReleaseContext, share: float, version: str | None = None) -> DeploymentRecord:
    """The production-approved version answers `share` of entities (sticky by id) as challenger."""
    if not 0.0 < share < 1.0:
        raise SpecError(f"canary share {share} must be between 0 and 1 (exclusive), e.g. 0.1")
    state = ctx.routing()
    if version is None:
        version = _staging_version(ctx)
        if version is None:
            raise NotFound(
                f"model '{ctx.model_name}' has no `staging` version; pass --version or take "
                "a version through the staging gate first"
            )
    if not state.champion:
        raise SpecError(
            f"model '{ctx.model_name}' has no champion to compare a canary with; "
            f"`aurora deploy promote {ctx.model_name}` deploys the first version"
        )
    if str(version) == state.champion:
        raise SpecError(f"v{version} already is the champion of '{ctx.model_name}'")
    approval_id = verify_production_approval(ctx, str(version))
    _move(ctx, {routing.CHALLENGER: str(version)}, _routing_tags(share, "canary"))
    return _record(
        ctx,
        "canary_start",
        "canary",
        reason=f"canary v{version} at {share:.0%} of traffic vs champion v{state.champion}",
        details={"approval_id": approval_id},
    )


def set_canary_share(
    ctx: ReleaseContext, share: float, reason: str, metrics: dict
) -> DeploymentRecord:
    """Move the canary to its next step (the controller calls this)."""
    state = ctx.routing()
    if not state.challenger:
        raise NotFound(f"model '{ctx.model_name}' has no canary (challenger) running")
    _move(ctx, {}, _routing_tags(share, "canary"))
    return _record(ctx, "canary_step", "canary", reason=reason, details={"metrics": metrics})


def abort_canary(ctx: ReleaseContext, reason: str, metrics: dict | None = None) -> DeploymentRecord:
    """Canary rollback: the challenger alias is removed and its share set to 0."""
    state = ctx.routing()
    _move(ctx, {routing.CHALLENGER: None}, _routing_tags(0.0, "canary"))
    return _record(
        ctx,
        "canary_rollback",
        "canary",
        reason=reason,
        details={"rolled_back_version": state.challenger, "metrics": metrics or {}},
    )


def start_shadow(ctx: ReleaseContext, version: str | None = None) -> DeploymentRecord:
    """The version scores live traffic as `shadow`; its answers are logged, never returned.

    A shadow sees production data but answers nobody, so the staging approval suffices.
    """
    from aurora_pipelines.registry.digest import model_version_digest

    version = version or _staging_version(ctx)
    if version is None:
        raise NotFound(f"model '{ctx.model_name}' has no `staging` version; pass --version")
    digest = model_version_digest(ctx.tracking_uri, ctx.model_name, version)
    verdict = ctx.governance.verify_approval("staging", ctx.model_name, version, digest)
    if not verdict.ok:
        raise GovernanceError(
            f"model '{ctx.model_name}' version {version} cannot shadow production: {verdict.reason}"
        )
    _move(ctx, {routing.SHADOW: str(version)})
    return _record(
        ctx,
        "shadow_start",
        "shadow",
        reason=f"v{version} scores live traffic in shadow",
        details={"approval_id": verdict.request.id if verdict.request else None},
    )


def stop_shadow(ctx: ReleaseContext) -> DeploymentRecord:
    _move(ctx, {routing.SHADOW: None})
    return _record(ctx, "shadow_stop", "shadow", reason="shadow stopped")
