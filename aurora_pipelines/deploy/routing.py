"""What serves an experiment's traffic, read from the MLflow registry (the one source of truth).

Aliases on the registered model say which version plays which role; a registered-model tag
holds the challenger's traffic share during a canary. Deployment commands (promote, rollback,
the canary controller) write these; the scoring service and batch scoring read them, so an
alias change reaches traffic without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aurora_pipelines.registry.sql_registry import sql_registry

if TYPE_CHECKING:  # MLflow costs seconds to import: only the MlflowClient path pays for it
    from mlflow.tracking import MlflowClient

STAGING = "staging"  # what UAT scores; set by the staging gate
CHAMPION = "champion"  # answers production traffic
CHALLENGER = "challenger"  # canary: answers `challenger_share` of traffic, sticky by entity id
FALLBACK = "fallback"  # answers when the champion cannot (load failure, error)
SHADOW = "shadow"  # scores live traffic; its answers are logged, never returned
ROLES = (CHAMPION, CHALLENGER, FALLBACK, SHADOW)

CHALLENGER_SHARE_TAG = "aurora.challenger_share"  # "0.1" = 10% of entities go to the challenger
DEPLOYMENT_STRATEGY_TAG = "aurora.strategy"  # blue_green | canary | shadow


@dataclass(frozen=True)
class RoutingState:
    """Which version plays which role for one registered model (None when unset)."""

    model_name: str
    champion: str | None = None
    challenger: str | None = None
    fallback: str | None = None
    shadow: str | None = None
    challenger_share: float = 0.0
    strategy: str = "blue_green"

    def version_for(self, role: str) -> str | None:
        return getattr(self, role)


def read_routing(
    tracking_uri: str, model_name: str, client: MlflowClient | None = None
) -> RoutingState:
    """The routing state now; an unknown model reads as nothing deployed.

    Read with one SQL round trip on MLflow's tables when possible (registry/sql_registry.py),
    else through `client` (pass one to reuse it: creating one on a SQLite store costs ~1 s)."""
    fast = sql_registry(tracking_uri) if client is None else None
    if fast is not None:
        view = fast.routing_view(model_name)
        if view is None:
            return RoutingState(model_name=model_name)
        aliases, tags = view
    else:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        client = client or MlflowClient(tracking_uri=tracking_uri)
        try:
            registered = client.get_registered_model(model_name)
        except MlflowException:
            return RoutingState(model_name=model_name)
        aliases = {alias: str(version) for alias, version in (registered.aliases or {}).items()}
        tags = registered.tags or {}
    return routing_state(model_name, aliases, tags)


def routing_state(model_name: str, aliases: dict[str, str], tags: dict[str, str]) -> RoutingState:
    """The routing state that aliases and registered-model tags describe."""
    try:
        share = float(tags.get(CHALLENGER_SHARE_TAG, 0.0))
    except ValueError:
        share = 0.0
    return RoutingState(
        model_name=model_name,
        champion=aliases.get(CHAMPION),
        challenger=aliases.get(CHALLENGER),
        fallback=aliases.get(FALLBACK),
        shadow=aliases.get(SHADOW),
        challenger_share=min(max(share, 0.0), 1.0) if aliases.get(CHALLENGER) else 0.0,
        strategy=tags.get(DEPLOYMENT_STRATEGY_TAG, "blue_green"),
    )
