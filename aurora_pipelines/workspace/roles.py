"""Per-experiment roles on top of team membership: owner, editor, viewer.

Effective role of a user on an experiment: an explicit grant (`aurora experiments share`)
wins; else the spec's owner and platform admins are owners, members of the experiment's team
editors, everyone else in the policy a viewer. Only owners and editors change a spec or launch
training; only owners grant roles or archive. A refusal is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from aurora_pipelines.errors import PermissionDenied, SpecError
from aurora_pipelines.governance import audit
from aurora_pipelines.workspace.tables import experiment_roles

if TYPE_CHECKING:
    from aurora_pipelines.governance.policy import Policy
    from aurora_pipelines.specs import ExperimentSpec

ROLES = ("owner", "editor", "viewer")
RANK = {"viewer": 0, "editor": 1, "owner": 2}
ROLE_GRANTED = "experiment_role_granted"
ROLE_REFUSED = "experiment_action_refused"
# Actions and the least role that may take them.
EDIT, TRAIN, SHARE, ARCHIVE, READ = (
    "change the spec",
    "launch training",
    "grant roles",
    "archive",
    "read",
)
NEEDS = {EDIT: "editor", TRAIN: "editor", SHARE: "owner", ARCHIVE: "owner", READ: "viewer"}


def grants(engine: sa.Engine, experiment: str) -> dict[str, str]:
    """Explicit grants of `experiment`: user -> role."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(experiment_roles.c.user_name, experiment_roles.c.role).where(
                experiment_roles.c.experiment == experiment
            )
        ).all()
    return {r.user_name: r.role for r in rows}


def effective_role(
    engine: sa.Engine, policy: Policy, spec: ExperimentSpec, user: str | None
) -> str | None:
    """The user's role on the experiment (None: not a policy identity, no grant)."""
    if not user:
        return None
    explicit = grants(engine, spec.name).get(user)
    if explicit:
        return explicit
    if user == spec.owner:
        return "owner"
    if not policy.has_user(user):
        return None
    person = policy.user(user)
    if "admin" in person.roles:
        return "owner"
    return "editor" if person.team == spec.team else "viewer"


def require(
    engine: sa.Engine,
    policy: Policy,
    spec: ExperimentSpec,
    user: str | None,
    action: str,
    correlation_id: str | None = None,
) -> str:
    """The user's role if it allows `action`; PermissionDenied (audited) otherwise."""
    role = effective_role(engine, policy, spec, user)
    needed = NEEDS[action]
    if role is not None and RANK[role] >= RANK[needed]:
        return role
    audit.append_audit(
        engine,
        ROLE_REFUSED,
        user or "anonymous",
        f"experiment/{spec.name}",
        {"action": action, "role": role, "needs": needed},
        correlation_id,
    )
    held = f"is {role}" if role else "has no role"
    raise PermissionDenied(
        f"{user or 'anonymous'} {held} on experiment '{spec.name}' and may not {action} "
        f"(needs {needed} or above); ask its owner {spec.owner} for "
        f"`aurora experiments share {spec.name} {user or 'USER'} --role {needed}`"
    )


def grant(
    engine: sa.Engine,
    policy: Policy,
    spec: ExperimentSpec,
    user: str,
    role: str,
    granted_by: str,
) -> None:
    """Give `user` `role` on the experiment (replacing a previous grant); owners only."""
    if role not in ROLES:
        raise SpecError(f"unknown role '{role}' (known: {', '.join(ROLES)})")
    if not policy.has_user(user):
        raise SpecError(
            f"'{user}' is not an identity of the governance policy "
            f"(known: {', '.join(u.name for u in policy.users)})"
        )
    require(engine, policy, spec, granted_by, SHARE)

    def work(conn: sa.Connection) -> None:
        conn.execute(
            sa.delete(experiment_roles).where(
                experiment_roles.c.experiment == spec.name, experiment_roles.c.user_name == user
            )
        )
        conn.execute(
            sa.insert(experiment_roles).values(
                experiment=spec.name,
                user_name=user,
                role=role,
                granted_by=granted_by,
                granted_at=datetime.now(UTC),
            )
        )
        audit.append_audit(
            conn, ROLE_GRANTED, granted_by, f"experiment/{spec.name}", {"user": user, "role": role}
        )

    audit.transact(engine, work)
