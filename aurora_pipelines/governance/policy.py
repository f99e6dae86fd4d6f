"""The governance policy: identities, their roles and teams, and which roles may approve which gate.

The policy is a YAML file (default `governance/policy.yaml`, overridable with AURORA_POLICY),
validated strictly: a typo in a role or field name must fail loudly rather than silently grant
or withhold an approval right.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from aurora_pipelines.errors import GovernanceError, PermissionDenied

ROLES: tuple[str, ...] = ("data_scientist", "model_validator", "mrm", "release_manager", "admin")
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$"


def _check_roles(roles: list[str]) -> list[str]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}; roles are: {', '.join(ROLES)}")
    return roles


class _Strict(BaseModel):
    # Unknown fields are an error: a misspelt key must not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Team(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    display_name: str = ""


class User(_Strict):
    """One identity: the name is what AURORA_USER (or a bearer token) resolves to."""

    name: str = Field(pattern=NAME_PATTERN)
    display_name: str = ""
    roles: list[str] = Field(min_length=1)
    team: str

    _known_roles = field_validator("roles")(_check_roles)

    def has_any_role(self, roles: list[str] | tuple[str, ...]) -> bool:
        return any(r in roles for r in self.roles)


class Gate(_Strict):
    """A promotion gate, the roles whose holders may approve it, and optionally a quorum.

    With `quorum` (e.g. [mrm, release_manager]) a request is approved only once a distinct
    approver holding each listed role has approved it. With `expires_after_hours` a request
    nobody decided in time becomes `expired` and can never be decided.
    """

    roles: list[str] = Field(min_length=1)
    quorum: list[str] = Field(default_factory=list)
    expires_after_hours: float | None = Field(default=None, gt=0)
    description: str = ""

    _known_roles = field_validator("roles", "quorum")(_check_roles)

    @model_validator(mode="after")
    def _quorum_within_roles(self) -> Gate:
        outside = [r for r in self.quorum if r not in self.roles]
        if outside:
            raise ValueError(
                f"quorum role(s) {outside} are not in the gate's `roles` {self.roles}; "
                "add them to `roles` or remove them from `quorum`"
            )
        if len(set(self.quorum)) != len(self.quorum):
            raise ValueError(f"quorum {self.quorum} lists a role twice")
        return self


class Policy(_Strict):
    # How the CLI learns who acts: `token` (a personal token, `aurora login` / AURORA_TOKEN) or
    # `trust_env` (AURORA_USER is believed: the embedded demo's policy, for a laptop only).
    # Absent means `token`: trusting AURORA_USER must be asked for, never a default.
    identity: Literal["token", "trust_env"] = "token"
    teams: list[Team] = Field(min_length=1)
    users: list[User] = Field(min_length=1)
    gates: dict[str, Gate] = Field(min_length=1)
    # Team read grants and PII columns; validated by aurora_pipelines.sources.access.
    data_access: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        team_names = [t.name for t in self.teams]
        user_names = [u.name for u in self.users]
        for kind, names in (("team", team_names), ("user", user_names)):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"duplicate {kind} name(s): {', '.join(duplicates)}")
        for user in self.users:
            if user.team not in team_names:
                raise ValueError(
                    f"user `{user.name}` is in team `{user.team}`, which is not under `teams` "
                    f"(teams: {', '.join(team_names)})"
                )
        return self

    def user(self, name: str | None) -> User:
        """The identity called `name`; PermissionDenied (with the valid names) if there is none."""
        for user in self.users:
            if user.name == name:
                return user
        names = ", ".join(u.name for u in self.users)
        if not name:
            raise PermissionDenied(f"no identity given — set AURORA_USER to one of: {names}")
        raise PermissionDenied(f"unknown identity '{name}' — set AURORA_USER to one of: {names}")

    @property
    def trusts_env(self) -> bool:
        """True when AURORA_USER alone identifies a CLI caller (`identity: trust_env`)."""
        return self.identity == "trust_env"

    def has_user(self, name: str | None) -> bool:
        return any(u.name == name for u in self.users)

    def gate(self, gate: str) -> Gate:
        """The gate called `gate`; GovernanceError listing the defined gates if there is none."""
        try:
            return self.gates[gate]
        except KeyError:
            raise GovernanceError(
                f"unknown gate '{gate}'; the policy defines: {', '.join(self.gates)}"
            ) from None

    def roles_for_gate(self, gate: str) -> list[str]:
        """Roles whose holders may approve `gate`."""
        return list(self.gate(gate).roles)

    def approvers_for_gate(self, gate: str) -> list[str]:
        """Names of the users who may approve `gate` (before excluding the requester)."""
        roles = self.roles_for_gate(gate)
        return [u.name for u in self.users if u.has_any_role(roles)]

    def quorum_for_gate(self, gate: str) -> list[str]:
        """Roles that must each approve `gate` (empty: any one allowed role decides)."""
        return list(self.gate(gate).quorum)

    def may_approve(self, name: str | None, gate: str) -> bool:
        """True if `name` is a known user holding a role allowed for `gate`."""
        roles = self.roles_for_gate(gate)
        return any(u.name == name and u.has_any_role(roles) for u in self.users)


def _where(loc: tuple[Any, ...], raw: Any) -> str:
    """`users[1] (validator_bob).roles` rather than `users.1.roles`: name the entry."""
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            entry = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                label += f" ({entry['name']})"
            parts.append(label)
            node = entry
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _format_validation_error(path: Path, exc: ValidationError, raw: Any) -> str:
    problems = []
    for err in exc.errors():
        where = _where(tuple(err["loc"]), raw)
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown field `{where}` (remove it or fix its spelling)")
        elif err["type"] == "missing":
            problems.append(f"missing required field `{where}`")
        else:
            message = err["msg"].removeprefix("Value error, ")
            problems.append(f"`{where}`: {message}")
    return (
        f"governance policy {path}: "
        + "; ".join(problems)
        + " — fix the file or point AURORA_POLICY at a valid one"
    )


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file; GovernanceError names the file and each bad field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GovernanceError(
            f"governance policy {path} does not exist; set AURORA_POLICY to a policy file"
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise GovernanceError(
            f"governance policy {path} is not valid YAML{at}: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(raw, dict):
        raise GovernanceError(
            f"governance policy {path} must be a mapping with `teams`, `users` and `gates`"
        )
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise GovernanceError(_format_validation_error(path, exc, raw)) from None
