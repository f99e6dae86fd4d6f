"""The governance policy: identities, their roles and teams, which roles may approve which gate,
and the risk tiers: the rule that maps an experiment's risk answers to a tier, and per tier its
gate chain and the compliance requirements a version must meet before a request is filed.

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
from aurora_pipelines.specs import DecisionAutomation, Materiality, RegulatoryUse, RiskSpec

ROLES: tuple[str, ...] = (
    "data_scientist",
    "model_validator",
    "mrm",
    "second_line_reviewer",
    "release_manager",
    "admin",
)
CardSection = Literal["intended_use", "limitations", "data_sources", "slices"]
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
    nobody decided in time becomes `expired` and can never be decided. With
    `revalidate_after_days` an approval is due for revalidation that long after its decision.
    """

    roles: list[str] = Field(min_length=1)
    quorum: list[str] = Field(default_factory=list)
    expires_after_hours: float | None = Field(default=None, gt=0)
    # An approval of this gate stops counting this many days after its decision: the model
    # must be revalidated (a new request, decided again) before the gate passes again.
    revalidate_after_days: float | None = Field(default=None, gt=0)
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


def _listed(value: Any) -> Any:
    # `materiality: high` reads as `materiality: [high]`.
    return [value] if isinstance(value, str) else value


class Requirements(_Strict):
    """What a model version must show before an approval request for it can be filed."""

    card_sections: list[CardSection] = Field(
        default_factory=list, description="Model card sections that must be present, non-empty."
    )
    min_disparity_ratio: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="The card's disparity ratio on the sensitive attribute must be at least this.",
    )
    holdout_cis: bool = Field(
        default=False, description="Every holdout metric has a bootstrap confidence interval."
    )
    uat_report: bool = Field(
        default=False, description="Production gate: the version's UAT report exists."
    )


class Tier(_Strict):
    """A risk tier: its gate chain (gates not listed use the top-level `gates`) and the
    compliance requirements checked before a request is filed."""

    description: str = ""
    gates: dict[str, Gate] = Field(default_factory=dict)
    requirements: Requirements = Requirements()


class TierCondition(_Strict):
    """Risk answers a rule matches: every listed field must match (an answer among the listed
    values; for `regulatory_use`, any of the experiment's uses listed)."""

    materiality: list[Materiality] | None = None
    decision_automation: list[DecisionAutomation] | None = None
    personal_data: bool | None = None
    regulatory_use: list[RegulatoryUse] | None = None

    _one_or_many = field_validator(
        "materiality", "decision_automation", "regulatory_use", mode="before"
    )(_listed)

    @model_validator(mode="after")
    def _not_empty(self) -> TierCondition:
        if not self.model_fields_set:
            raise ValueError(
                "a rule needs at least one condition (materiality, decision_automation, "
                "personal_data, regulatory_use)"
            )
        return self

    def matches(self, risk: RiskSpec) -> bool:
        """True if `risk` meets every condition listed."""
        checks = [
            self.materiality is None or risk.materiality in self.materiality,
            self.decision_automation is None
            or risk.decision_automation in self.decision_automation,
            self.personal_data is None or risk.personal_data == self.personal_data,
            self.regulatory_use is None
            or bool(set(risk.regulatory_use) & set(self.regulatory_use)),
        ]
        return all(checks)

    def describe(self) -> str:
        """`materiality in [high] and personal_data = true`."""
        parts = []
        for name in ("materiality", "decision_automation", "personal_data", "regulatory_use"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool):
                parts.append(f"{name} = {str(value).lower()}")
            else:
                parts.append(f"{name} in [{', '.join(value)}]")
        return " and ".join(parts)


class TierRuleEntry(_Strict):
    tier: str
    when: TierCondition


class TierRule(_Strict):
    """Maps risk answers to a tier: the highest tier (in the order `tiers` lists them, lowest
    first) among the rules that match; `otherwise` if none does; `unassessed` for a spec with
    no `governance.risk` section (so leaving the questionnaire out never lowers the tier)."""

    unassessed: str
    otherwise: str
    rules: list[TierRuleEntry] = Field(default_factory=list)


class Policy(_Strict):
    # How the CLI learns who acts: `token` (a personal token, `aurora login` / AURORA_TOKEN) or
    # `trust_env` (AURORA_USER is believed: the embedded demo's policy, for a laptop only).
    # Absent means `token`: trusting AURORA_USER must be asked for, never a default.
    identity: Literal["token", "trust_env"] = "token"
    teams: list[Team] = Field(min_length=1)
    users: list[User] = Field(min_length=1)
    gates: dict[str, Gate] = Field(min_length=1)
    # Risk tiers, lowest first, and the rule that assigns them (both or neither).
    tiers: dict[str, Tier] = Field(default_factory=dict)
    tier_rule: TierRule | None = None
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
        self._check_tiers()
        return self

    def _check_tiers(self) -> None:
        if bool(self.tiers) != (self.tier_rule is not None):
            raise ValueError(
                "`tiers` and `tier_rule` go together: define both (risk tiers and the rule that "
                "assigns them) or neither"
            )
        if self.tier_rule is None:
            return
        known = ", ".join(self.tiers)
        rule = self.tier_rule
        named = [("tier_rule.unassessed", rule.unassessed), ("tier_rule.otherwise", rule.otherwise)]
        named += [(f"tier_rule.rules[{i}].tier", r.tier) for i, r in enumerate(rule.rules)]
        for where, tier in named:
            if tier not in self.tiers:
                raise ValueError(
                    f"`{where}` names tier `{tier}`, which is not under `tiers` ({known})"
                )
        for name, tier in self.tiers.items():
            unknown = [g for g in tier.gates if g not in self.gates]
            if unknown:
                raise ValueError(
                    f"tier `{name}` defines gate(s) {unknown} that are not under `gates` "
                    f"({', '.join(self.gates)}); a tier sets who decides the policy's gates"
                )

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

    def gate(self, gate: str, tier: str | None = None) -> Gate:
        """The gate called `gate` in `tier`'s chain (None: the top-level `gates`).

        GovernanceError listing the defined gates (or tiers) if there is none.
        """
        try:
            default = self.gates[gate]
        except KeyError:
            raise GovernanceError(
                f"unknown gate '{gate}'; the policy defines: {', '.join(self.gates)}"
            ) from None
        return default if tier is None else self.tier(tier).gates.get(gate, default)

    def tier(self, name: str) -> Tier:
        """The risk tier called `name`; GovernanceError listing the tiers if there is none."""
        try:
            return self.tiers[name]
        except KeyError:
            known = ", ".join(self.tiers) or "none (the policy has no `tiers`)"
            raise GovernanceError(
                f"unknown risk tier '{name}'; the policy defines: {known} — a request filed "
                "under a tier the policy no longer has cannot be decided; submit a new request"
            ) from None

    def requirements(self, tier: str | None) -> Requirements:
        """Compliance requirements of `tier` (none without a tier)."""
        return Requirements() if tier is None else self.tier(tier).requirements

    def roles_for_gate(self, gate: str, tier: str | None = None) -> list[str]:
        """Roles whose holders may approve `gate` (in `tier`'s chain)."""
        return list(self.gate(gate, tier).roles)

    def approvers_for_gate(self, gate: str, tier: str | None = None) -> list[str]:
        """Names of the users who may approve `gate` (before excluding the requester)."""
        roles = self.roles_for_gate(gate, tier)
        return [u.name for u in self.users if u.has_any_role(roles)]

    def quorum_for_gate(self, gate: str, tier: str | None = None) -> list[str]:
        """Roles that must each approve `gate` (empty: any one allowed role decides)."""
        return list(self.gate(gate, tier).quorum)

    def may_approve(self, name: str | None, gate: str, tier: str | None = None) -> bool:
        """True if `name` is a known user holding a role allowed for `gate` (in `tier`)."""
        roles = self.roles_for_gate(gate, tier)
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
        # libyaml's loader: the pure-Python one takes ~50 ms of every CLI command on this file.
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
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
