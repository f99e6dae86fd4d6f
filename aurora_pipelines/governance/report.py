"""Approval analytics and the model inventory, from the governance database alone.

`build_report(store)` reads the training candidates (every registered version train/model
produced), the approval requests with their decisions, the production deployments and the
`access_denied` audit rows, and returns:
- the model inventory: every model, its risk tier, owner, champion version, last validation,
  next revalidation due and open findings (rejections and change requests since the last
  approval);
- time to decision per gate and tier (median, p90) with rejection and changes-requested rates;
- overdue revalidations (a production champion whose revalidation date has passed);
- access denials per ISO week.
`aurora governance report [--json]`, the page /ui/report and the daily asset
`governance/report` all print this one object.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from aurora_pipelines.governance.models import (
    APPROVED,
    CHANGES_REQUESTED,
    EXPIRED,
    PENDING,
    REJECTED,
    training_candidates,
)
from aurora_pipelines.results import JsonValue, Markdown, MetadataDict

if TYPE_CHECKING:
    from aurora_pipelines.governance.approvals import ApprovalRequest
    from aurora_pipelines.governance.store import GovernanceStore

# SR 11-7 practice: a model in use is revalidated at least yearly unless its tier says otherwise.
DEFAULT_REVALIDATION_DAYS = 365
NO_TIER = "untiered"
DECIDED = (APPROVED, REJECTED, CHANGES_REQUESTED)


def request_tier(request: ApprovalRequest) -> str | None:
    """The risk tier a request was filed under (its `tier` field, or `details.tier`)."""
    tier = getattr(request, "tier", None) or (request.details or {}).get("tier")
    return str(tier) if tier else None


def _revalidation_due(request: ApprovalRequest) -> datetime | None:
    """An explicit revalidation date the approval carries (set by tiers with a periodic review)."""
    value = getattr(request, "revalidation_due", None) or (request.details or {}).get(
        "revalidation_due"
    )
    if not value:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class InventoryRow:
    experiment: str
    model_name: str
    tier: str | None
    owner: str | None
    versions: int
    champion_version: str | None
    last_validation: datetime | None
    last_validation_gate: str | None
    last_validation_by: str | None
    next_revalidation: datetime | None
    revalidation_overdue: bool
    open_findings: int
    pending_requests: int


@dataclass(frozen=True)
class DecisionStats:
    gate: str
    tier: str
    decided: int
    approved: int
    rejected: int
    changes_requested: int
    expired: int
    median_hours: float | None
    p90_hours: float | None

    @property
    def rejection_rate(self) -> float | None:
        return self.rejected / self.decided if self.decided else None

    @property
    def changes_requested_rate(self) -> float | None:
        return self.changes_requested / self.decided if self.decided else None


@dataclass(frozen=True)
class GovernanceReport:
    generated_at: datetime
    inventory: list[InventoryRow]
    decision_stats: list[DecisionStats]
    denials_per_week: list[tuple[str, int]]
    pending_total: int
    revalidation_days: int = DEFAULT_REVALIDATION_DAYS

    @property
    def overdue(self) -> list[InventoryRow]:
        return [row for row in self.inventory if row.revalidation_overdue]

    def as_metadata(self, files: dict[str, Path] | None = None) -> MetadataDict:
        """Headline numbers, the inventory as a table and the written files (asset metadata)."""
        lines = [
            "| model | tier | owner | champion | last validation | next revalidation | findings |",
            "|---|---|---|---|---|---|---|",
            *(_markdown_row(m) for m in self.inventory),
        ]
        return {
            "models": len(self.inventory),
            "pending_requests": self.pending_total,
            "overdue_revalidations": len(self.overdue),
            "open_findings": sum(m.open_findings for m in self.inventory),
            "access_denial_weeks": len(self.denials_per_week),
            "access_denials": sum(n for _, n in self.denials_per_week),
            "inventory": Markdown("\n".join(lines)),
            "decision_times": JsonValue({"rows": self.to_dict()["decision_times"]}),
            **{f"report_{kind}": path for kind, path in (files or {}).items()},
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (datetimes as ISO strings, rates as fractions)."""

        def plain(value: Any) -> Any:
            return value.isoformat() if isinstance(value, datetime) else value

        return {
            "generated_at": self.generated_at.isoformat(),
            "revalidation_days": self.revalidation_days,
            "pending_total": self.pending_total,
            "inventory": [{k: plain(v) for k, v in asdict(r).items()} for r in self.inventory],
            "decision_times": [
                {
                    **asdict(s),
                    "rejection_rate": s.rejection_rate,
                    "changes_requested_rate": s.changes_requested_rate,
                }
                for s in self.decision_stats
            ],
            "overdue_revalidations": [
                {
                    "model_name": r.model_name,
                    "champion_version": r.champion_version,
                    "next_revalidation": plain(r.next_revalidation),
                }
                for r in self.overdue
            ],
            "access_denials_per_week": [{"week": w, "count": n} for w, n in self.denials_per_week],
        }


def _day(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d}" if value else "—"


def _markdown_row(m: InventoryRow) -> str:
    champion = f"v{m.champion_version}" if m.champion_version else "—"
    due = _day(m.next_revalidation) + (" **overdue**" if m.revalidation_overdue else "")
    return (
        f"| {m.model_name} | {m.tier or '—'} | {m.owner or '—'} | {champion} | "
        f"{_day(m.last_validation)} | {due} | {m.open_findings} |"
    )


def _iso_week(ts: str) -> str:
    year, week, _ = datetime.fromisoformat(ts).isocalendar()
    return f"{year}-W{week:02d}"


def _inventory_row(
    model_name: str,
    experiment: str,
    owner: str | None,
    versions: int,
    requests: list[ApprovalRequest],
    champion: str | None,
    now: datetime,
    revalidation_days: int,
) -> InventoryRow:
    approved = [r for r in requests if r.status == APPROVED and r.decided_at]
    last = max(approved, key=lambda r: r.decided_at, default=None)
    next_due = None
    if last is not None:
        next_due = _revalidation_due(last) or last.decided_at + timedelta(days=revalidation_days)
    since = last.decided_at if last else None
    findings = [
        r
        for r in requests
        if r.status in (REJECTED, CHANGES_REQUESTED) and (since is None or r.decided_at > since)
    ]
    newest = max(requests, key=lambda r: r.id, default=None)
    return InventoryRow(
        experiment=experiment,
        model_name=model_name,
        tier=request_tier(newest) if newest else None,
        owner=owner,
        versions=versions,
        champion_version=champion,
        last_validation=last.decided_at if last else None,
        last_validation_gate=last.gate if last else None,
        last_validation_by=last.decided_by if last else None,
        next_revalidation=next_due,
        # Only a model in use must be revalidated; a champion never validated is overdue.
        revalidation_overdue=champion is not None and (next_due is None or next_due <= now),
        open_findings=len(findings),
        pending_requests=sum(r.status == PENDING for r in requests),
    )


def _decision_stats(requests: list[ApprovalRequest]) -> list[DecisionStats]:
    groups: dict[tuple[str, str], list[ApprovalRequest]] = defaultdict(list)
    for r in requests:
        if r.status in (*DECIDED, EXPIRED):
            groups[(r.gate, request_tier(r) or NO_TIER)].append(r)
    stats = []
    for (gate, tier), members in sorted(groups.items()):
        decided = [r for r in members if r.status in DECIDED and r.decided_at]
        hours = [(r.decided_at - r.requested_at).total_seconds() / 3600 for r in decided]
        counts = Counter(r.status for r in members)
        stats.append(
            DecisionStats(
                gate=gate,
                tier=tier,
                decided=len(decided),
                approved=counts[APPROVED],
                rejected=counts[REJECTED],
                changes_requested=counts[CHANGES_REQUESTED],
                expired=counts[EXPIRED],
                median_hours=percentile(hours, 50),
                p90_hours=percentile(hours, 90),
            )
        )
    return stats


def build_report(
    store: GovernanceStore,
    *,
    owners: dict[str, str] | None = None,
    now: datetime | None = None,
    revalidation_days: int = DEFAULT_REVALIDATION_DAYS,
) -> GovernanceReport:
    """The model inventory and approval analytics of one governance database.

    `owners`: experiment -> owner (from the specs); otherwise the model's first trainer.
    """
    now = now or datetime.now(UTC)
    requests = store.list_requests()
    with store.engine.connect() as conn:
        candidates = conn.execute(
            sa.select(
                training_candidates.c.experiment,
                training_candidates.c.model_name,
                training_candidates.c.model_version,
                training_candidates.c.created_by,
            ).order_by(training_candidates.c.id)
        ).all()
    champions: dict[str, str | None] = {}
    for record in store.list_deployments(environment="production"):  # newest first
        champions.setdefault(record.model_name, record.champion_version)

    experiment_of: dict[str, str] = {}
    trainer_of: dict[str, str] = {}
    versions: dict[str, set[str]] = defaultdict(set)
    for c in candidates:
        experiment_of[c.model_name] = c.experiment
        trainer_of.setdefault(c.model_name, c.created_by)
        versions[c.model_name].add(c.model_version)
    by_model: dict[str, list[ApprovalRequest]] = defaultdict(list)
    for r in requests:
        by_model[r.model_name].append(r)
        experiment_of.setdefault(r.model_name, r.experiment)
        trainer_of.setdefault(r.model_name, r.requested_by)
        versions[r.model_name].add(r.model_version)
    for name in champions:
        experiment_of.setdefault(name, name)

    inventory = [
        _inventory_row(
            name,
            experiment_of[name],
            (owners or {}).get(experiment_of[name]) or trainer_of.get(name),
            len(versions[name]),
            by_model[name],
            champions.get(name),
            now,
            revalidation_days,
        )
        for name in sorted(experiment_of)
    ]
    weeks = Counter(_iso_week(row["ts"]) for row in store.read_audit(event="access_denied"))
    return GovernanceReport(
        generated_at=now,
        inventory=inventory,
        decision_stats=_decision_stats(requests),
        denials_per_week=sorted(weeks.items()),
        pending_total=sum(r.status == PENDING for r in requests),
        revalidation_days=revalidation_days,
    )


def render_report_html(report: GovernanceReport) -> str:
    """The report as one self-contained HTML document (what the daily asset writes)."""
    from aurora_pipelines.governance.web.templating import render_html

    return render_html("report.html", report=report, user=None)


def spec_owners(experiments_dir: Path) -> dict[str, str]:
    """experiment -> owner, from the experiment specs (the inventory's owner column)."""
    from aurora_pipelines.specs import load_specs

    return {spec.name: spec.owner for spec in load_specs(experiments_dir)}


def write_report(report: GovernanceReport, out_dir: Path) -> dict[str, Path]:
    """report.html and report.json in `out_dir` (replaced atomically); their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "html": (out_dir / "report.html", render_report_html(report)),
        "json": (out_dir / "report.json", json.dumps(report.to_dict(), indent=2)),
    }
    for path, text in files.values():
        partial = path.with_suffix(path.suffix + ".partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    return {kind: path for kind, (path, _) in files.items()}
