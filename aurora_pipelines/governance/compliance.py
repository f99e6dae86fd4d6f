"""Compliance requirements of a risk tier, checked before an approval request is filed.

The policy lists per tier what a model version must show (policy.Requirements): model card
sections present and non-empty, the disparity ratio on the sensitive attribute within the
tier's bound, bootstrap CIs on the holdout metrics, a UAT report for production. They are
checked against the card's facts file (model_card.json, written with the card) and the UAT
evidence of exactly the version and digest under review. A failing requirement names what is
missing and how to fix it; the gate then files no request (and its blocking check fails).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aurora_pipelines.governance.policy import Requirements
from aurora_pipelines.lifecycle import Gate

APPROVAL_BLOCKED = "approval_blocked"  # audit event: a request refused by compliance


@dataclass(frozen=True)
class RequirementResult:
    requirement: str  # e.g. "card_section:limitations", "min_disparity_ratio"
    passed: bool
    detail: str  # what was found; when failing, what is missing and how to fix it


@dataclass(frozen=True)
class ComplianceReport:
    tier: str | None
    gate: str
    model_version: str
    results: tuple[RequirementResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[RequirementResult]:
        return [r for r in self.results if not r.passed]

    def reason(self) -> str:
        """One paragraph: passed, or each failing requirement with its fix."""
        tier = f"tier {self.tier}" if self.tier else "untiered"
        if not self.results:
            return f"{tier}: no compliance requirements for the {self.gate} gate"
        if self.passed:
            names = ", ".join(r.requirement for r in self.results)
            count = len(self.results)
            return f"{tier}: all {count} requirements of the {self.gate} gate met ({names})"
        return (
            f"{tier}: {len(self.failures)} of {len(self.results)} requirements of the "
            f"{self.gate} gate not met for version {self.model_version}, so no approval request "
            "is filed: " + " | ".join(f"{r.requirement}: {r.detail}" for r in self.failures)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "gate": self.gate,
            "model_version": self.model_version,
            "passed": self.passed,
            "results": [asdict(r) for r in self.results],
        }


def read_card_facts(card_dir: Path) -> dict[str, Any] | None:
    """The facts file of a version's model card (None if the card was not written)."""
    from aurora_pipelines.explain.model_card import FACTS_FILE

    path = Path(card_dir) / FACTS_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _card_problem(
    card: dict[str, Any] | None, experiment: str, version: str, digest: str
) -> str | None:
    make = f"materialize {experiment}/explain/model_card"
    if card is None:
        return f"version {version} has no model card (model_card.json); {make}"
    if card.get("model_digest") != digest or str(card.get("model_version")) != version:
        return (
            f"the model card was written for version {card.get('model_version')} (digest "
            f"{str(card.get('model_digest'))[:12]}…), not version {version} (digest "
            f"{digest[:12]}…); {make} for the version under review"
        )
    return None


def _section(name: str, card: dict[str, Any], experiment: str) -> RequirementResult:
    sections = card.get("sections") or {}
    value = sections.get(name)
    redo = f"then rematerialize {experiment}/explain/model_card"
    if name == "intended_use":
        ok = bool(str(value or "").strip())
        fix = (
            "the card states no intended use; set `governance.intended_use` in the spec (what "
            f"the model is for, who relies on it), {redo}"
        )
        found = "stated"
    elif name == "limitations":
        ok = any(str(item).strip() for item in value or [])
        fix = (
            "the card lists no limitations; list them under `governance.limitations` in the "
            f"spec (known weaknesses, populations and uses it was not validated for), {redo}"
        )
        found = f"{len(value or [])} stated"
    elif name == "data_sources":
        ok = bool(value)
        fix = (
            "the card lists no data sources; materialize the raw and feature tables, "
            f"{redo.removeprefix('then ')}"
        )
        found = f"{len(value or [])} listed"
    else:  # slices
        ok = bool(value)
        attribute = card.get("sensitive_attribute")
        fix = (
            f"the card has no metrics by slice of '{attribute}' (no slice with enough holdout "
            f"rows); check the column's values, {redo}"
            if attribute
            else "the card has no metrics by slice; declare `governance.sensitive_attribute` "
            f"(a feature-table column such as region) in the spec, {redo}"
        )
        found = f"{len(value or [])} slices of '{attribute}'"
    return RequirementResult(f"card_section:{name}", ok, found if ok else fix)


def _disparity(bound: float, card: dict[str, Any], tier: str | None) -> RequirementResult:
    ratio = card.get("disparity_ratio")
    attribute = card.get("sensitive_attribute")
    name = "min_disparity_ratio"
    if ratio is None:
        return RequirementResult(
            name,
            False,
            f"the card has no disparity ratio (it needs `governance.sensitive_attribute` with at "
            f"least two slices); the {tier} tier requires one of at least {bound:g}",
        )
    if ratio < bound:
        return RequirementResult(
            name,
            False,
            f"disparity ratio {ratio:.3f} across '{attribute}' is below the {tier} tier's bound "
            f"{bound:g}; mitigate it (reweigh or resample the slices, drop proxy features, "
            "recalibrate) and retrain, or have the policy owner change the tier's bound",
        )
    return RequirementResult(name, True, f"{ratio:.3f} across '{attribute}' (bound {bound:g})")


def _cis(card: dict[str, Any], experiment: str) -> RequirementResult:
    metrics = card.get("holdout_metrics") or {}
    missing = sorted(
        name for name, m in metrics.items() if m.get("low") is None or m.get("high") is None
    )
    if not metrics or missing:
        what = ", ".join(missing) if missing else "all (the card has no holdout metrics)"
        return RequirementResult(
            "holdout_cis",
            False,
            f"holdout metric(s) without a confidence interval: {what}; the card computes "
            "bootstrap CIs for in-process models (a Spark MLlib card has none) — train an "
            f"in-process model or rematerialize {experiment}/explain/model_card",
        )
    return RequirementResult("holdout_cis", True, f"CIs on {', '.join(sorted(metrics))}")


def _uat(uat: dict[str, Any], experiment: str, version: str) -> RequirementResult:
    report = uat.get("uat_report")
    if report and Path(report).is_file():
        return RequirementResult("uat_report", True, str(report))
    return RequirementResult(
        "uat_report",
        False,
        f"version {version} has no UAT report; materialize {experiment}/serve/uat_scores (it "
        "scores the UAT set with the staging model and writes the report) before the "
        "production gate",
    )


def evaluate_compliance(
    requirements: Requirements,
    *,
    tier: str | None,
    gate: str,
    experiment: str,
    model_version: str,
    model_digest: str,
    card: dict[str, Any] | None,
    uat: dict[str, Any] | None = None,
) -> ComplianceReport:
    """Check `requirements` for one version at one gate; every requirement gets a result."""
    version = str(model_version)
    results: list[RequirementResult] = []
    card_based = bool(
        requirements.card_sections
        or requirements.min_disparity_ratio is not None
        or requirements.holdout_cis
    )
    problem = _card_problem(card, experiment, version, model_digest) if card_based else None
    if problem is not None:
        names = [f"card_section:{s}" for s in requirements.card_sections]
        names += ["min_disparity_ratio"] * (requirements.min_disparity_ratio is not None)
        names += ["holdout_cis"] * requirements.holdout_cis
        results += [RequirementResult(n, False, problem) for n in names]
    elif card is not None:
        results += [_section(s, card, experiment) for s in requirements.card_sections]
        if requirements.min_disparity_ratio is not None:
            results.append(_disparity(requirements.min_disparity_ratio, card, tier))
        if requirements.holdout_cis:
            results.append(_cis(card, experiment))
    if requirements.uat_report and gate == Gate.production.value:
        results.append(_uat(uat or {}, experiment, version))
    return ComplianceReport(tier=tier, gate=gate, model_version=version, results=tuple(results))
