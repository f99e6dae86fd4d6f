"""WorkspaceStore: versions, roles and health scores in the governance database."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from aurora_pipelines.workspace import roles, versions
from aurora_pipelines.workspace.tables import create_tables

if TYPE_CHECKING:
    import sqlalchemy as sa

    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.specs import ExperimentSpec
    from aurora_pipelines.workspace.versions import SpecVersion


class WorkspaceStore:
    """The workspace's records next to the governance store's (same engine, same audit)."""

    def __init__(self, governance: GovernanceStore) -> None:
        self.governance = governance
        self.policy = governance.policy
        self._ready = False
        self._lock = threading.Lock()

    @property
    def engine(self) -> sa.Engine:
        engine = self.governance.engine
        if not self._ready:
            with self._lock:
                if not self._ready:
                    create_tables(engine)
                    self._ready = True
        return engine

    # Versions

    def record_version(
        self,
        spec: ExperimentSpec,
        author: str,
        note: str = "",
        correlation_id: str | None = None,
    ) -> tuple[SpecVersion, bool]:
        return versions.record_version(self.engine, spec, author, note, correlation_id)

    def history(self, experiment: str) -> list[SpecVersion]:
        return versions.history(self.engine, experiment)

    def latest_version(self, experiment: str) -> SpecVersion | None:
        return versions.latest_version(self.engine, experiment)

    # Roles

    def role(self, spec: ExperimentSpec, user: str | None) -> str | None:
        return roles.effective_role(self.engine, self.policy, spec, user)

    def require(
        self,
        spec: ExperimentSpec,
        user: str | None,
        action: str,
        correlation_id: str | None = None,
    ) -> str:
        return roles.require(self.engine, self.policy, spec, user, action, correlation_id)

    def grant(self, spec: ExperimentSpec, user: str, role: str, granted_by: str) -> None:
        roles.grant(self.engine, self.policy, spec, user, role, granted_by)

    def grants(self, experiment: str) -> dict[str, str]:
        return roles.grants(self.engine, experiment)
