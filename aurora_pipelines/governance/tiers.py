"""Risk tiers: an experiment's risk answers -> the policy's tier -> its gate chain.

The tier is decided by the policy (`tier_rule`), never by the spec: the spec only answers the
questionnaire (`governance.risk`). A policy without `tiers` has no tiering (tier None) and every
request follows the top-level `gates`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aurora_pipelines.governance.policy import Gate, Policy
from aurora_pipelines.specs import RiskSpec

RISK_TIER_TAG = "aurora.risk_tier"  # MLflow model version tag
RISK_TIER_CHANGED = "risk_tier_changed"  # audit event


@dataclass(frozen=True)
class TierAssessment:
    """The tier the policy gives a set of risk answers, and why (for the card and the audit)."""

    tier: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"tier": self.tier, "reason": self.reason}


def assess_tier(policy: Policy, risk: RiskSpec | None) -> TierAssessment:
    """The highest tier any matching rule names; `otherwise` if none; `unassessed` if no answers."""
    rule = policy.tier_rule
    if rule is None:
        return TierAssessment(None, "the policy defines no risk tiers")
    if risk is None:
        return TierAssessment(
            rule.unassessed,
            f"no `governance.risk` section in the spec: the policy's unassessed tier "
            f"`{rule.unassessed}` (answer the questionnaire to be tiered by the rules)",
        )
    order = list(policy.tiers)
    matched = [(order.index(r.tier), r) for r in rule.rules if r.when.matches(risk)]
    if not matched:
        return TierAssessment(rule.otherwise, "no tier rule matches the risk answers")
    rank, _ = max(matched, key=lambda m: m[0])
    reasons = [r.when.describe() for i, r in matched if i == rank]
    return TierAssessment(order[rank], "; ".join(reasons))


def describe_gate(gate: Gate) -> str:
    """`quorum of mrm + second_line_reviewer, expires after 72 h, revalidate every 365 days`."""
    who = (
        "quorum of " + " + ".join(gate.quorum)
        if gate.quorum
        else "one of " + ", ".join(gate.roles)
        if len(gate.roles) > 1
        else gate.roles[0]
    )
    parts = [who]
    if gate.expires_after_hours is not None:
        parts.append(f"expires after {gate.expires_after_hours:g} h")
    if gate.revalidate_after_days is not None:
        parts.append(f"revalidate every {gate.revalidate_after_days:g} days")
    return ", ".join(parts)


def gate_chain(policy: Policy, tier: str | None) -> list[tuple[str, str]]:
    """(gate, who decides it and on what terms) for each gate, in lifecycle order."""
    return [(name, describe_gate(policy.gate(name, tier))) for name in policy.gates]


def describe_requirements(policy: Policy, tier: str | None) -> list[str]:
    """One line per compliance requirement of `tier` (empty: none)."""
    req = policy.requirements(tier)
    lines = []
    if req.card_sections:
        lines.append("model card sections present: " + ", ".join(req.card_sections))
    if req.min_disparity_ratio is not None:
        lines.append(f"disparity ratio on the sensitive attribute ≥ {req.min_disparity_ratio:g}")
    if req.holdout_cis:
        lines.append("holdout metrics with confidence intervals")
    if req.uat_report:
        lines.append("UAT report (production gate)")
    return lines
