"""`aurora drift NAME [--window DATE] [--json]`: the latest drift results of an experiment."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from aurora_pipelines import lifecycle
from aurora_pipelines.commands.common import console, get_settings
from aurora_pipelines.errors import NotFound

if TYPE_CHECKING:
    from aurora_pipelines.settings import Settings

FEATURE_FIELDS = ["psi", "test", "statistic", "p_value", "js_distance", "severity", "drifted"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def drift_results(settings: Settings, name: str, window: str | None = None) -> dict[str, Any]:
    """The latest computation of a window (default: the latest window) as a plain dict."""
    # Imported here, not at the top: the monitoring package imports pandas (~1.3 s), which
    # `aurora --help` and every other command would pay for.
    from aurora_pipelines.lake import delta
    from aurora_pipelines.monitoring.reference import SCORE_FEATURE, is_score_feature
    from aurora_pipelines.monitoring.series import latest_window, windows
    from aurora_pipelines.specs import find_spec

    spec = find_spec(settings.experiments_dir, name)
    path = settings.lake_dir.joinpath(spec.name, *lifecycle.DRIFT)
    if not delta.is_delta_table(path):
        raise NotFound(
            f"experiment '{spec.name}' has no drift results yet; materialize "
            f"{spec.name}/monitor/drift (aurora run {spec.name}) first"
        )
    rows = latest_window(path, window)
    if rows.empty:
        raise NotFound(
            f"experiment '{spec.name}' has no drift results for window {window}; "
            f"windows with results: {', '.join(windows(path)) or 'none'}"
        )
    first = rows.iloc[0]
    features, prediction, class_scores = [], None, []
    for _, row in rows.iterrows():
        entry = {"column": row["column"], **{k: _clean(row.get(k)) for k in FEATURE_FIELDS}}
        if row["column"] == SCORE_FEATURE:
            prediction = entry
        elif is_score_feature(row["column"]):
            class_scores.append(entry)  # multiclass: one per class probability
        else:
            features.append(entry)
    return {
        "experiment": spec.name,
        "window": str(first["window"]),
        "computed_at": str(first["computed_at"]),
        "model_version": _clean(first.get("model_version")),
        "rows": _clean(first.get("rows")),
        "drift_share": float(first["drift_share"]),
        "dataset_drift": bool(_clean(first.get("dataset_drift"))),
        "severity": _clean(first.get("window_severity")),
        "evidently_drift_share": _clean(first.get("evidently_drift_share")),
        "report": _clean(first.get("report")) or None,
        "prediction_drift": prediction,
        "class_score_drift": class_scores,
        "features": features,
    }


def render(data: dict[str, Any], console: Console) -> None:
    verdict = "[red]DRIFT[/red]" if data["dataset_drift"] else "[green]no dataset drift[/green]"
    console.print(
        f"[bold]{data['experiment']}[/bold] window {data['window']} "
        f"(model v{data['model_version']}, {data['rows']} rows): drift share "
        f"{data['drift_share']:.2f} {verdict}"
    )
    table = Table("feature", "psi", "test", "p_value", "js", "severity", "drifted")
    predictions = [data["prediction_drift"]] if data["prediction_drift"] else []
    for f in [*data["features"], *predictions, *data["class_score_drift"]]:
        p = f["p_value"]
        table.add_row(
            f["column"],
            f"{f['psi']:.4f}",
            str(f["test"]),
            "-" if p is None else f"{p:.3g}",
            "-" if f["js_distance"] is None else f"{f['js_distance']:.3f}",
            str(f["severity"]),
            "yes" if f["drifted"] else "no",
        )
    console.print(table)
    if data["report"]:
        console.print(f"report: {data['report']}")


def drift(
    name: Annotated[str, typer.Argument(help="Experiment name.")],
    window: Annotated[
        str | None, typer.Option(help="Window (day, YYYY-MM-DD); default: the latest.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Drift of the latest (or a given) window: drift share, verdict, per-feature statistics."""
    data = drift_results(get_settings(), name, window)
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        render(data, console)
