"""`aurora governance report`: the model inventory and approval analytics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from aurora_pipelines.commands.common import console, get_settings, governance_store


def _day(value) -> str:
    return f"{value:%Y-%m-%d}" if value else "—"


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} h"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def report(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html: Annotated[
        Path | None, typer.Option(help="Also write report.html and report.json to this folder.")
    ] = None,
) -> None:
    """Model inventory (tier, owner, champion, validation, revalidation, findings), time to
    decision per gate and tier, rejection rates, overdue revalidations, denials per week."""
    from aurora_pipelines.governance.report import build_report, spec_owners, write_report

    settings = get_settings()
    result = build_report(governance_store(settings), owners=spec_owners(settings.experiments_dir))
    if html is not None:
        written = write_report(result, html)
        typer.echo(f"wrote {written['html']} and {written['json']}", err=True)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    inventory = Table(
        "model", "experiment", "tier", "owner", "champion", "last validation",
        "next revalidation", "open findings", "pending", title="Model inventory",
    )  # fmt: skip
    for m in result.inventory:
        inventory.add_row(
            m.model_name,
            m.experiment,
            m.tier or "—",
            m.owner or "—",
            f"v{m.champion_version}" if m.champion_version else "—",
            _day(m.last_validation) + (f" ({m.last_validation_gate})" if m.last_validation else ""),
            _day(m.next_revalidation) + (" overdue" if m.revalidation_overdue else ""),
            str(m.open_findings),
            str(m.pending_requests),
        )
    console.print(inventory)
    times = Table(
        "gate", "tier", "decided", "median", "p90", "rejected", "changes requested", "expired",
        title="Time to decision",
    )  # fmt: skip
    for s in result.decision_stats:
        times.add_row(
            s.gate,
            s.tier,
            str(s.decided),
            _hours(s.median_hours),
            _hours(s.p90_hours),
            f"{s.rejected} ({_rate(s.rejection_rate)})",
            f"{s.changes_requested} ({_rate(s.changes_requested_rate)})",
            str(s.expired),
        )
    console.print(times)
    overdue = ", ".join(f"{m.model_name} (due {_day(m.next_revalidation)})" for m in result.overdue)
    console.print(f"overdue revalidations: {overdue or 'none'}")
    weeks = ", ".join(f"{week}: {n}" for week, n in result.denials_per_week)
    console.print(f"access denials per week: {weeks or 'none'}")
