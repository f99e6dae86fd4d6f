"""`aurora seed | run | profile | status | suggest | demo`: one experiment's pipeline, from
sample data through runs to its status.

The work lives in commands/run.py, commands/demo.py and the engine; they import Spark and
Dagster, so each command imports them when it runs, not when `aurora` starts.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from aurora_pipelines.commands.common import acting_settings, console, get_settings

if TYPE_CHECKING:
    from aurora_pipelines.profiling.experiment import ExperimentProfile
    from aurora_pipelines.settings import Settings


def register(app: typer.Typer) -> None:
    """Add the pipeline commands to the root `aurora` app (in the order `--help` lists them)."""
    app.command("seed")(seed)
    app.command("run")(run)
    app.command("profile")(profile)
    app.command("status")(status)
    app.command("suggest")(suggest)
    app.command("demo")(demo)


def seed(
    rows: Annotated[int, typer.Option(help="Rows in the training table.")] = 100_000,
    batch_rows: Annotated[int, typer.Option(help="Rows in the new batch.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    batch_drift: Annotated[
        bool, typer.Option(help="Whether the new batch is drifted (--no-batch-drift: stable).")
    ] = True,
    inject_drift: Annotated[
        bool,
        typer.Option(
            "--inject-drift",
            help="Only replace the new batch (and its labels) with a drifted one and append "
            "--labelled-rows drifted, labelled rows to the training table (after a champion).",
        ),
    ] = False,
    labelled_rows: Annotated[
        int, typer.Option(help="With --inject-drift: drifted rows whose outcome is known.")
    ] = 0,
) -> None:
    """Register the synthetic credit data as catalog tables in `raw_sources`."""
    from aurora_pipelines.lake.spark import get_spark
    from aurora_pipelines.sources import catalog

    spark = get_spark(get_settings())
    if inject_drift:
        # Seeds of their own (ids carry the seed): no id of the training table comes back.
        tables = catalog.inject_drift(spark, batch_rows, seed + 1000, labelled_rows=labelled_rows)
    else:
        tables = catalog.seed_sample_tables(spark, rows, batch_rows, seed, batch_drift)
    for table in tables:
        console.print(f"seeded {table.table}: {table.rows:,} rows" + (" (drifted)" * table.drift))


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

    with acting_settings(get_settings(), "run", f"experiment/{name}") as settings:
        outcome = run_and_report(settings, name, full=full, console=console, partition=partition)
    if outcome.errors:
        raise typer.Exit(1)


def profile(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the latest profile as JSON (profiles if none).")
    ] = False,
) -> None:
    """Profile the experiment's raw table (or its source): quality score, sampling, columns."""
    with acting_settings(get_settings(), "profile", f"experiment/{name}") as settings:
        _profile(settings, name, as_json)


def _profile(settings: Settings, name: str, as_json: bool) -> None:
    from aurora_pipelines.profiling.experiment import latest_profile

    if as_json:
        data = latest_profile(settings, name)
        if data is None:
            data = _run_profile(settings, name, show_progress=False).profile.to_dict()
        typer.echo(json.dumps(data, indent=2, allow_nan=False))
        return
    done = _run_profile(settings, name, show_progress=True)
    _print_profile(done)


def _run_profile(settings: Settings, name: str, show_progress: bool) -> ExperimentProfile:
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


def _print_profile(done: ExperimentProfile) -> None:
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


def demo(
    rows: Annotated[int, typer.Option(help="Rows of sample data.")] = 100_000,
    batch_rows: Annotated[int, typer.Option(help="Rows in the drifted batch.")] = 20_000,
    drift: Annotated[bool, typer.Option(help="Then inject drift and close the loop.")] = False,
) -> None:
    """The whole lifecycle on fresh sample data, approvals given by DEMO identities."""
    from aurora_pipelines.commands.demo import run_demo

    run_demo(get_settings(), rows=rows, batch_rows=batch_rows, console=console, drift=drift)
