"""The governance store (approvals, audit log) as a resource."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:
    from aurora_pipelines.governance.store import GovernanceStore


class GovernanceResource(dg.ConfigurableResource):
    """Approvals and the hash-chained audit log, under the policy at `policy_path`.

    `url` is a SQLAlchemy URL; leave it unset for SQLite under `home`. When it carries a
    password, configure it as `dg.EnvVar("AURORA_GOVERNANCE_URL")`: the UI then shows the
    variable's name, and the value is read only when a run starts.
    """

    home: str = Field(description="AURORA_HOME (the SQLite default lives here).")
    policy_path: str = Field(description="The governance policy file (roles, gates, teams).")
    url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite.")

    @property
    def database_url(self) -> str:
        return self.url or f"sqlite:///{Path(self.home).resolve() / 'governance.db'}"

    def store(self) -> GovernanceStore:
        # Imported on use: SQLAlchemy's drivers are not loaded with the code location.
        from aurora_pipelines.governance.policy import load_policy
        from aurora_pipelines.governance.store import GovernanceStore

        return GovernanceStore(self.database_url, load_policy(Path(self.policy_path)))
