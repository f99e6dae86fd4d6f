"""`aurora deploy ...`: what serves a model, and governed changes to it.

Every change is for release managers and admins (policy roles), needs the version's production
approval (re-verified against its current digest), moves MLflow aliases (the scoring service
follows without a restart), and is stored as a deployment record with its audit row.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from aurora_pipelines.commands.common import acting, console, get_settings

if TYPE_CHECKING:
    from aurora_pipelines.deploy.release import ReleaseContext
    from aurora_pipelines.settings import Settings

app = typer.Typer(
    help="Deployments: status, blue/green promote and rollback, canary, shadow.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="Experiment (= registered model) name.")]
Version = Annotated[
    str | None, typer.Option("--version", help="Model version (default: see help).")
]


@contextlib.contextmanager
def _context(settings: Settings, name: str, action: str) -> Iterator[ReleaseContext]:
    """The release context of the authenticated caller, authorized for `action`; the change is
    made inside the block, so its audit rows record how the caller was authenticated."""
    from aurora_pipelines.deploy.artifact_store import artifact_store_from_url
    from aurora_pipelines.deploy.release import ReleaseContext, authorize
    from aurora_pipelines.governance.store import GovernanceStore

    with acting(settings, f"deploy {action}", f"model/{name}") as me:
        ctx = ReleaseContext(
            tracking_uri=settings.tracking_uri,
            governance=GovernanceStore.from_settings(settings),
            actor=me.name,
            correlation_id=f"cli-{uuid.uuid4().hex[:16]}",
            experiment=name,
            model_name=name,
            store=artifact_store_from_url(settings.artifact_store_url),
        )
        authorize(ctx, action)
        yield ctx


def _done(record, started: float) -> None:
    split = ", ".join(f"v{v} {s:.0%}" for v, s in record.traffic_split.items()) or "none"
    console.print(
        f"deployment #{record.id} ({record.action}, {record.strategy}): champion "
        f"v{record.champion_version or '-'}, challenger v{record.challenger_version or '-'}, "
        f"fallback v{record.fallback_version or '-'}, shadow v{record.shadow_version or '-'}; "
        f"traffic: {split} [{(time.perf_counter() - started) * 1000:.0f} ms]"
    )


@app.command("status")
def status(
    name: Name,
    limit: Annotated[int, typer.Option(help="How many deployment records to show.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Routing now (MLflow aliases, canary share) and the recent deployment records."""
    from aurora_pipelines.deploy.routing import read_routing
    from aurora_pipelines.governance.store import GovernanceStore

    settings = get_settings()
    state = read_routing(settings.tracking_uri, name)
    records = GovernanceStore.from_settings(settings).list_deployments(name, limit=limit)
    if as_json:
        routing = {k: getattr(state, k) for k in state.__dataclass_fields__}
        typer.echo(
            json.dumps(
                {"routing": routing, "deployments": [r.to_dict() for r in records]}, indent=2
            )
        )
        return
    console.print(
        f"[bold]{name}[/bold] ({state.strategy}): champion v{state.champion or '-'}, "
        f"challenger v{state.challenger or '-'} at {state.challenger_share:.0%}, "
        f"fallback v{state.fallback or '-'}, shadow v{state.shadow or '-'}"
    )
    table = Table("id", "when", "env", "action", "strategy", "champion", "challenger", "share")
    table.add_column("fallback")
    table.add_column("by")
    table.add_column("reason")
    for r in records:
        table.add_row(
            str(r.id),
            r.deployed_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.environment,
            r.action,
            r.strategy,
            r.champion_version or "",
            r.challenger_version or "",
            f"{r.challenger_share:.0%}",
            r.fallback_version or "",
            r.deployed_by,
            r.reason or "",
        )
    console.print(table)


@app.command("promote")
def promote(name: Name, version: Version = None) -> None:
    """Blue/green: the challenger (else the staging version) takes all traffic at once; the old
    champion becomes the fallback. Only a production-approved version."""
    from aurora_pipelines.deploy.release import promote as do_promote

    started = time.perf_counter()
    with _context(get_settings(), name, "promote") as ctx:
        _done(do_promote(ctx, version), started)


@app.command("rollback")
def rollback(
    name: Name,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the record).")] = None,
) -> None:
    """Champion <- fallback at once (and any canary stopped)."""
    from aurora_pipelines.deploy.release import rollback as do_rollback

    started = time.perf_counter()
    with _context(get_settings(), name, "rollback") as ctx:
        _done(do_rollback(ctx, reason), started)


@app.command("canary")
def canary(
    name: Name,
    share: Annotated[float, typer.Option(help="Share of entities the challenger answers.")] = 0.1,
    version: Version = None,
) -> None:
    """Start a canary: the production-approved version (default: the staging version) answers
    `share` of traffic, sticky by entity id; the canary sensor steps it up or rolls it back."""
    from aurora_pipelines.deploy.release import start_canary

    started = time.perf_counter()
    with _context(get_settings(), name, "canary") as ctx:
        _done(start_canary(ctx, share, version), started)


@app.command("shadow")
def shadow(
    name: Name,
    version: Version = None,
    stop: Annotated[bool, typer.Option("--stop", help="Stop shadow scoring.")] = False,
) -> None:
    """Shadow: the version (default: the staging version) scores live traffic; its answers are
    logged, never returned."""
    from aurora_pipelines.deploy.release import start_shadow, stop_shadow

    started = time.perf_counter()
    with _context(get_settings(), name, "shadow") as ctx:
        _done(stop_shadow(ctx) if stop else start_shadow(ctx, version), started)
