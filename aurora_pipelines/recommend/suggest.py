"""`aurora suggest NAME`: the recommendation for an experiment's current feature table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from aurora_pipelines import lifecycle
from aurora_pipelines.errors import NotFound
from aurora_pipelines.settings import Settings
from aurora_pipelines.specs import find_spec


def suggest_for_experiment(settings: Settings, name: str) -> dict[str, Any]:
    """The recommendation as a dict, plus the plan that training would follow."""
    from aurora_pipelines.lake import delta
    from aurora_pipelines.recommend import recommend_for_table, resolve_plan

    spec = find_spec(settings.experiments_dir, name)
    path = settings.lake_dir.joinpath(spec.name, *lifecycle.FEATURES)
    if not delta.is_delta_table(path):
        raise NotFound(
            f"experiment '{name}' has no feature table yet ({path}); "
            f"build it with `aurora run {name}` first"
        )
    recommendation = recommend_for_table(path, spec)
    plan = resolve_plan(spec, recommendation)
    return {
        "experiment": spec.name,
        "feature_table": str(path),
        "feature_table_version": delta.version(path),
        **recommendation.as_dict(),
        "plan": {k: v for k, v in plan.as_dict().items() if k != "hpo"},
    }


def render_suggestions(data: dict[str, Any], console: Console) -> None:
    chosen = set(data["plan"]["algorithms"])
    table = Table("rank", "algorithm", "family", "train", "reasons", title=data["experiment"])
    for entry in data["algorithms"]:
        table.add_row(
            str(entry["rank"]),
            entry["algorithm"],
            entry["family"],
            "✓" if entry["algorithm"] in chosen else "",
            "\n".join(entry["reasons"]),
        )
    console.print(table)
    console.print(f"metric: {data['primary_metric']} — {' '.join(data['metric_reasons'])}")
    console.print(
        f"validation: {data['validation']}, {data['cv_folds']} folds — "
        + "; ".join(data["validation_reasons"])
    )
    sources = data["plan"]["sources"]
    pinned = ", ".join(k for k, v in sources.items() if v == "spec") or "nothing"
    console.print(f"the spec pins: {pinned} (the rest follows this recommendation)")
