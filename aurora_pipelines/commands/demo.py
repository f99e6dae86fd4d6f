"""`aurora demo` (`make demo`): the whole lifecycle on fresh sample data.

The two approvals are given by the DEMO identities validator_bob and mrm_carol, which only a
policy with `identity: trust_env` allows (the packaged policy; a laptop only): every audit row
the demo writes says `auth=trust_env`. In real use each checker is a different person deciding
with their own personal token, and the same maker-checker rules apply (the demo cannot approve
as the requester either).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.console import Console

from aurora_pipelines.errors import AuroraError
from aurora_pipelines.settings import Settings

EXPERIMENT = "credit_default"
DEMO_APPROVERS = {"staging": "validator_bob", "production": "mrm_carol"}


class Stopwatch:
    """Wall-clock time per demo step, printed at the end and used by benchmarks/."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []
        self.drift_loop: Any = None  # demo_drift.DriftLoop with --drift

    def time(self, label: str, work: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return work()
        finally:
            self.steps.append((label, time.perf_counter() - start))


def _approve_pending(settings: Settings, gate: str, console: Console) -> None:
    from aurora_pipelines.governance.store import GovernanceStore

    governance = GovernanceStore.from_settings(settings)
    pending = governance.list_requests(experiment=EXPERIMENT, gate=gate, status="pending")
    if not pending:
        raise AuroraError(f"demo expected a pending {gate} approval request, found none")
    request = pending[0]
    approver = DEMO_APPROVERS[gate]
    governance.decide(
        request.id,
        "approve",
        actor=approver,
        comment=f"DEMO ONLY: approved by demo identity {approver} (aurora demo)",
    )
    console.print(
        f"[magenta]demo-only approval:[/magenta] {approver} approved request "
        f"#{request.id} ({gate}, {request.model_name} v{request.model_version})"
    )


def _require_trust_env(settings: Settings, console: Console) -> None:
    from aurora_pipelines.governance.policy import load_policy

    if not load_policy(settings.policy).trusts_env:
        raise AuroraError(
            f"aurora demo approves as the demo identities {' and '.join(DEMO_APPROVERS.values())}"
            f", which the policy {settings.policy} does not allow (it has no `identity: "
            "trust_env`); unset AURORA_POLICY to use the packaged demo policy"
        )
    console.print(
        "[magenta]identity: trust_env[/magenta] — the demo policy believes AURORA_USER and the "
        "demo identities (laptop only); every action is audited with auth=trust_env. A shared "
        "deployment uses personal tokens (`aurora login`)."
    )


def run_demo(
    settings: Settings, *, rows: int, batch_rows: int, console: Console, drift: bool = False
) -> Stopwatch:
    """The demo's steps, each timed; audited with `auth=trust_env`, which it requires."""
    from aurora_pipelines.governance import audit

    _require_trust_env(settings, console)
    with audit.authenticated_as({"auth": "trust_env"}):
        return _run_demo(settings, rows=rows, batch_rows=batch_rows, console=console, drift=drift)


def _run_demo(
    settings: Settings, *, rows: int, batch_rows: int, console: Console, drift: bool
) -> Stopwatch:
    from aurora_pipelines.commands.run import run_and_report
    from aurora_pipelines.lake.spark import get_spark
    from aurora_pipelines.sources.catalog import seed_sample_tables
    from aurora_pipelines.status import experiment_status, render_status

    watch = Stopwatch()
    console.rule("Aurora demo: credit_default")
    seeded = watch.time(
        "seed sample data (incl. Spark start)",
        # With --drift the first batch is stable; drift is injected once a champion exists.
        lambda: seed_sample_tables(get_spark(settings), rows, batch_rows, batch_drift=not drift),
    )
    for table in seeded:
        console.print(f"seeded {table.table}: {table.rows:,} rows" + (" (drifted)" * table.drift))

    def run(full: bool = False) -> None:
        outcome = run_and_report(settings, EXPERIMENT, full=full, console=console)
        if outcome.errors:
            raise AuroraError(f"demo run failed: {outcome.errors[0]}")

    watch.time("run: raw → profile → features → train → staging request", lambda: run(True))
    watch.time(
        "approve staging (demo identity)", lambda: _approve_pending(settings, "staging", console)
    )
    watch.time("run: deploy staging → production request", run)
    watch.time(
        "approve production (demo identity)",
        lambda: _approve_pending(settings, "production", console),
    )
    watch.time("run: deploy champion → batch scores → drift", run)
    if drift:
        from aurora_pipelines.defs.demo_drift import run_drift_loop

        watch.drift_loop = watch.time(
            "drift loop: inject → detect → retrain → approve → new champion",
            lambda: run_drift_loop(
                settings,
                batch_rows=batch_rows,
                labelled_rows=rows // 2,
                console=console,
                approve=lambda gate: _approve_pending(settings, gate, console),
                run=run,
            ),
        )

    console.rule("Summary")
    render_status(experiment_status(settings, EXPERIMENT), console)
    console.print("\n[bold]Where to look[/bold]")
    layout = settings.layout
    for label, path in [
        ("Delta lake", layout.table(EXPERIMENT)),
        ("EDA profile", layout.report_dir(EXPERIMENT, "eda", "profile.html")),
        ("drift reports", layout.report_dir(EXPERIMENT, "drift")),
        ("MLflow store", settings.tracking_uri),
        ("artifact store (bundles)", settings.artifact_store_url),
        ("governance + audit_log", settings.governance_db_url),
        ("Dagster runs", settings.dagster_home),
    ]:
        console.print(f"  {label:<26} {path}")
    console.print(
        "  Dagster UI: make ui    MLflow UI: make mlflow-ui    audit: .venv/bin/aurora audit verify"
    )
    console.print("\n[bold]Time per step[/bold]")
    for label, seconds in watch.steps:
        console.print(f"  {seconds:7.1f} s  {label}")
    console.print(f"  {sum(s for _, s in watch.steps):7.1f} s  total")
    return watch
