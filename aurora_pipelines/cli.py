"""`aurora`: the command line for data scientists, approvers and auditors.

The caller's identity comes from AURORA_USER. Errors a user can cause print as one line
(`error: ...`) and exit 1; `--debug` shows the traceback.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from aurora_pipelines.commands import deploy as deploy_commands
from aurora_pipelines.commands import drift as drift_commands
from aurora_pipelines.commands import serve as serve_commands
from aurora_pipelines.errors import AuroraError, PermissionDenied
from aurora_pipelines.settings import Settings, get_settings

app = typer.Typer(
    help="Aurora: governed ML lifecycle on Dagster, Spark, Delta, dbt and MLflow.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
experiments_app = typer.Typer(help="Create and list experiment specs.", no_args_is_help=True)
approvals_app = typer.Typer(help="List and decide approval requests.", no_args_is_help=True)
audit_app = typer.Typer(help="Verify and read the audit trail.", no_args_is_help=True)
app.add_typer(experiments_app, name="experiments")
app.add_typer(approvals_app, name="approvals")
app.add_typer(audit_app, name="audit")
tokens_app = typer.Typer(help="Bearer tokens for the governance HTTP API.", no_args_is_help=True)
governance_app = typer.Typer(help="The governance HTTP API.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
app.add_typer(governance_app, name="governance")
app.add_typer(deploy_commands.app, name="deploy")
app.command("drift")(drift_commands.drift)
app.command("serve")(serve_commands.serve)

console = Console(soft_wrap=True)
DEMO_APPROVERS = {"staging": "validator_bob", "production": "mrm_carol"}


def _caller(settings: Settings) -> str:
    if not settings.user:
        raise PermissionDenied(
            "no caller identity: set AURORA_USER to your user name from the governance policy "
            f"({settings.policy})"
        )
    return settings.user


# --- experiments -------------------------------------------------------------------------


@experiments_app.command("create")
def experiments_create(
    name: Annotated[str, typer.Argument(help="Experiment name (lower_snake_case).")],
    source: Annotated[str, typer.Option(help="CSV/Parquet file, Delta dir, or database.table.")],
    target: Annotated[str, typer.Option(help="Target column.")],
    team: Annotated[str | None, typer.Option(help="Owning team (default: caller's team).")] = None,
    problem: Annotated[str, typer.Option(help="classification or regression.")] = "classification",
    id_column: Annotated[str | None, typer.Option(help="Row identifier column.")] = None,
    time_column: Annotated[str | None, typer.Option(help="Event-time column.")] = None,
) -> None:
    """Write experiments/NAME.yaml (and its dbt models) after checking the source and target."""
    from aurora_pipelines.experiments import create_experiment

    settings = get_settings()
    created = create_experiment(
        settings,
        name=name,
        source=source,
        target=target,
        team=team,
        problem_type=problem,
        id_column=id_column,
        time_column=time_column,
    )
    console.print(f"created experiment [bold]{name}[/bold]: {created.spec_path}")
    for path in created.dbt_files:
        console.print(f"  dbt: {path}")
    console.print(f"next: edit the feature model, then `aurora run {name}`")


@experiments_app.command("list")
def experiments_list() -> None:
    """List experiment specs."""
    from aurora_pipelines.specs import load_specs

    table = Table("name", "team", "owner", "source", "target", "problem")
    for spec in load_specs(get_settings().experiments_dir):
        table.add_row(
            spec.name,
            spec.team,
            spec.owner,
            spec.source.display,
            spec.target,
            spec.problem_type.value,
        )
    console.print(table)


# --- data and runs -----------------------------------------------------------------------


@app.command()
def seed(
    rows: Annotated[int, typer.Option(help="Rows in the training table.")] = 100_000,
    batch_rows: Annotated[int, typer.Option(help="Rows in the drifted new batch.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """Register the synthetic credit data as catalog tables in `raw_sources`."""
    from aurora_pipelines.lake.spark import get_spark
    from aurora_pipelines.sources.catalog import seed_sample_tables

    for table in seed_sample_tables(get_spark(get_settings()), rows, batch_rows, seed):
        console.print(f"seeded {table.table}: {table.rows:,} rows" + (" (drifted)" * table.drift))


@app.command()
def run(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    full: Annotated[bool, typer.Option("--full", help="Re-run every stage.")] = False,
    partition: Annotated[
        str | None,
        typer.Option(help="Day (YYYY-MM-DD, UTC) that daily assets run for; default today."),
    ] = None,
) -> None:
    """Materialize the experiment's stages as far as its gates allow."""
    from aurora_pipelines.commands.run import run_and_report

    outcome = run_and_report(get_settings(), name, full=full, console=console, partition=partition)
    if outcome.errors:
        raise typer.Exit(1)


@app.command("profile")
def profile_cmd(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the latest profile as JSON (profiles if none).")
    ] = False,
) -> None:
    """Profile the experiment's raw table (or its source): quality score, sampling, columns."""
    from aurora_pipelines.profiling.experiment import latest_profile

    settings = get_settings()
    if as_json:
        data = latest_profile(settings, name)
        if data is None:
            data = _run_profile(settings, name, show_progress=False).profile.to_dict()
        typer.echo(json.dumps(data, indent=2, allow_nan=False))
        return
    done = _run_profile(settings, name, show_progress=True)
    _print_profile(done)


def _run_profile(settings: Settings, name: str, show_progress: bool):
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from aurora_pipelines.lake.spark import get_spark
    from aurora_pipelines.profiling.experiment import experiment_input, profile_experiment
    from aurora_pipelines.specs import find_spec

    spec = find_spec(settings.experiments_dir, name)
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not show_progress,
        transient=True,
    ) as progress:
        task = progress.add_task("starting Spark", total=None)

        def stage(text: str) -> None:
            progress.update(task, description=f"profiling {name}: {text}")

        spark = get_spark(settings)
        stage("reading the data")
        found = experiment_input(spark, settings, spec)
        return profile_experiment(
            settings, spec, found.df, found.source, progress=stage, files=found.files
        )


def _print_profile(done) -> None:
    p = done.profile
    console.print(
        f"[bold]{p.rows:,}[/bold] rows x {p.column_count} columns from {done.source}; "
        f"quality score [bold]{p.quality_score:.1f}[/bold]"
    )
    breakdown = Table("component", "score")
    for component, score in p.quality_breakdown.items():
        breakdown.add_row(component, f"{score:.1f}")
    console.print(breakdown)
    console.print(f"sample: {p.sampling.method}, {p.sampling.rows:,} rows ({p.sampling.reason})")
    columns = Table("column", "type", "missing %", "distinct", "mean", "quality")
    for c in p.columns:
        columns.add_row(
            c.name,
            c.semantic_type.value,
            f"{c.missing_pct:.2f}",
            f"{c.distinct:,}",
            "" if c.mean is None else f"{c.mean:,.4g}",
            f"{c.quality_score:.1f}",
        )
    console.print(columns)
    for warning in p.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    for hint in p.leakage_hints:
        console.print(f"[red]leakage?[/red] {hint['message']}")
    console.print(f"report: {done.html}\nexpectation suite: {done.suite}")


@app.command()
def status(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Model, approvals, deployments and drift of one experiment."""
    from aurora_pipelines.status import experiment_status, render_status

    data = experiment_status(get_settings(), name)
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        render_status(data, console)


@app.command()
def suggest(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Ranked algorithms for the experiment's feature table, each with its reasons."""
    from aurora_pipelines.recommend.suggest import render_suggestions, suggest_for_experiment

    data = suggest_for_experiment(get_settings(), name)
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        render_suggestions(data, console)


@app.command()
def demo(
    rows: Annotated[int, typer.Option(help="Rows of sample data.")] = 100_000,
    batch_rows: Annotated[int, typer.Option(help="Rows in the drifted batch.")] = 20_000,
    drift: Annotated[bool, typer.Option(help="Then inject drift and close the loop.")] = False,
) -> None:
    """The whole lifecycle on fresh sample data, approvals given by DEMO identities."""
    from aurora_pipelines.commands.demo import run_demo

    run_demo(get_settings(), rows=rows, batch_rows=batch_rows, console=console, drift=drift)


# --- approvals ---------------------------------------------------------------------------


def _governance(settings: Settings):
    from aurora_pipelines.governance.store import GovernanceStore

    return GovernanceStore.from_settings(settings)


@approvals_app.command("list")
def approvals_list(
    experiment: Annotated[str | None, typer.Option(help="Only this experiment.")] = None,
    status_: Annotated[str | None, typer.Option("--status", help="e.g. pending.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Approval requests, newest first."""
    requests = _governance(get_settings()).list_requests(experiment=experiment, status=status_)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in requests], indent=2, default=str))
        return
    table = Table("id", "experiment", "gate", "model", "status", "requested_by", "decided_by")
    for r in requests:
        table.add_row(
            str(r.id),
            r.experiment,
            r.gate,
            f"{r.model_name} v{r.model_version}",
            r.status,
            r.requested_by,
            r.decided_by or "",
        )
    console.print(table)


@approvals_app.command("show")
def approvals_show(
    request_id: Annotated[int, typer.Argument(help="Approval request id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """One request with its evidence (model card, UAT report and metrics) and decisions."""
    request = _governance(get_settings()).get_request(request_id)
    if as_json:
        typer.echo(json.dumps(request.to_dict(), indent=2, default=str))
        return
    console.print(
        f"approval request #{request.id}: {request.gate} gate, {request.model_name} "
        f"v{request.model_version} ({request.model_digest[:12]}…), {request.status}; "
        f"requested by {request.requested_by}"
    )
    for key, value in (request.details or {}).items():
        text = json.dumps(value, default=str) if isinstance(value, dict | list) else value
        console.print(f"  {key}: {text}")
    for d in request.decisions:
        console.print(f"  decision: {d.decision} by {d.actor} ({d.role}): {d.comment or ''}")


def _decide(request_id: int, decision: str, comment: str) -> None:
    settings = get_settings()
    request = _governance(settings).decide(
        request_id, decision, actor=_caller(settings), comment=comment
    )
    console.print(
        f"approval request #{request.id} ({request.gate} gate, {request.model_name} "
        f"v{request.model_version}) is now {request.status} by {request.decided_by}"
    )
    if request.status == "approved":
        console.print(
            f"continue with `aurora run {request.experiment}` "
            "(or let the approval sensor launch the promotion)"
        )


@approvals_app.command("approve")
def approvals_approve(
    request_id: Annotated[int, typer.Argument(help="Approval request id.")],
    comment: Annotated[str, typer.Option(help="Why you approve.")] = "",
) -> None:
    """Approve a pending request as AURORA_USER."""
    _decide(request_id, "approve", comment)


@approvals_app.command("reject")
def approvals_reject(
    request_id: Annotated[int, typer.Argument(help="Approval request id.")],
    comment: Annotated[str, typer.Option(help="Why you reject (required).")] = "",
) -> None:
    """Reject a pending request as AURORA_USER (a comment is required)."""
    _decide(request_id, "reject", comment)


@approvals_app.command("request-changes")
def approvals_request_changes(
    request_id: Annotated[int, typer.Argument(help="Approval request id.")],
    comment: Annotated[str, typer.Option(help="What must change (required).")] = "",
) -> None:
    """Send a pending request back to the maker as AURORA_USER (a comment is required)."""
    _decide(request_id, "request_changes", comment)


# --- API tokens and server ---------------------------------------------------------------


@tokens_app.command("create")
def tokens_create(
    user: Annotated[str, typer.Argument(help="Policy user the token authenticates as.")],
    label: Annotated[str | None, typer.Option(help="What the token is for.")] = None,
) -> None:
    """Create a token for USER (yourself, or anyone if you are an admin); printed once."""
    settings = get_settings()
    token, info = _governance(settings).create_token(user, _caller(settings), label)
    typer.echo(token)
    typer.echo(
        f"token #{info.id} for {info.user_name} ({info.prefix}…): shown once, only its sha256 "
        f"is stored; revoke with `aurora tokens revoke {info.id}`",
        err=True,
    )


@tokens_app.command("revoke")
def tokens_revoke(token_id: Annotated[int, typer.Argument(help="Token id (tokens list).")]) -> None:
    """Revoke a token (its owner or an admin); later use is refused and audited."""
    settings = get_settings()
    info = _governance(settings).revoke_token(token_id, _caller(settings))
    typer.echo(f"token #{info.id} of {info.user_name} revoked by {info.revoked_by}")


@tokens_app.command("list")
def tokens_list(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens.")] = None,
) -> None:
    """Tokens (prefix, owner, state); never the tokens themselves."""
    table = Table("id", "user", "prefix", "label", "created_by", "created_at", "revoked")
    for info in _governance(get_settings()).list_tokens(user):
        table.add_row(
            str(info.id),
            info.user_name,
            info.prefix + "…",
            info.label or "",
            info.created_by,
            f"{info.created_at:%Y-%m-%d %H:%M}",
            f"by {info.revoked_by}" if info.revoked_at else "",
        )
    console.print(table)


@governance_app.command("serve")
def governance_serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
) -> None:
    """Serve the governance HTTP API (OpenAPI at /docs) with uvicorn."""
    import uvicorn

    from aurora_pipelines.governance.api import create_app

    app_ = create_app(_governance(get_settings()))
    uvicorn.run(app_, host=host, port=port, log_level="warning")


# --- audit -------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify() -> None:
    """Exit 0 when the audit hash chain is intact; otherwise name the first bad row."""
    result = _governance(get_settings()).verify_audit()
    if not result.ok:
        typer.echo(
            f"error: audit chain broken at seq {result.first_bad_seq}: {result.reason}", err=True
        )
        raise typer.Exit(1)
    typer.echo(f"audit chain intact: {result.rows} rows")


@audit_app.command("show")
def audit_show(
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The newest audit rows."""
    rows = _governance(get_settings()).read_audit(limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table("seq", "ts", "event", "actor", "target", "correlation_id")
    for row in rows:
        table.add_row(
            *(
                str(row.get(k, ""))
                for k in ("seq", "ts", "event", "actor", "target", "correlation_id")
            )
        )
    console.print(table)


@audit_app.command("export")
def audit_export(
    format_: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    since: Annotated[str | None, typer.Option(help="ISO date/datetime (UTC if naive).")] = None,
    correlation_id: Annotated[str | None, typer.Option(help="Only this correlation id.")] = None,
    event: Annotated[str | None, typer.Option(help="Only this event.")] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
) -> None:
    """Export the audit trail for an auditor (JSON includes the chain verification)."""
    from pathlib import Path

    text = _governance(get_settings()).export_audit(
        format_.lower(), since=since, correlation_id=correlation_id, event=event
    )
    if output:
        Path(output).write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)
    else:
        typer.echo(text, nl=False)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: one-line errors, tracebacks with --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        code = app(args=args, prog_name="aurora", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
        return code
    except AuroraError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except Exception as exc:  # click usage errors carry their own formatting
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
