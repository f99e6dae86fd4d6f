"""Recommendations as JSON (the asset's file, `aurora suggest --json`) and Markdown (the UI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aurora_pipelines.recommend.characteristics import Baseline, DataCharacteristics
from aurora_pipelines.recommend.rules import Recommendation, Suggestion


def write_json(
    recommendation: Recommendation, path: Path, extra: dict[str, Any] | None = None
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {**recommendation.as_dict(), **(extra or {})}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)  # readers never see a half-written file
    return path


def read_json(path: Path) -> Recommendation:
    data = json.loads(path.read_text())
    chars = dict(data["characteristics"])
    baseline = chars.pop("baseline", None)
    characteristics = DataCharacteristics(
        **chars, baseline=Baseline(**baseline) if baseline else None
    )
    return Recommendation(
        problem_type=data["problem_type"],
        algorithms=[Suggestion(**s) for s in data["algorithms"]],
        primary_metric=data["primary_metric"],
        metric_reasons=data["metric_reasons"],
        validation=data["validation"],
        validation_reasons=data["validation_reasons"],
        cv_folds=data["cv_folds"],
        class_weight=data["class_weight"],
        characteristics=characteristics,
        notes=data.get("notes", []),
    )


def _space(space: dict[str, dict[str, Any]]) -> str:
    parts = []
    for name, entry in space.items():
        if entry["type"] == "categorical":
            parts.append(f"{name} ∈ {entry['choices']}")
        else:
            scale = " log" if entry.get("log") else ""
            parts.append(f"{name} ∈ [{entry['low']}, {entry['high']}]{scale}")
    return "; ".join(parts) or "—"


def as_markdown(recommendation: Recommendation, selected: list[str] | None = None) -> str:
    """A ranked table with reasons, then the metric and validation decisions."""
    chosen = set(selected or [])
    lines = [
        "| rank | algorithm | family | score | train | reasons | search space |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in recommendation.algorithms:
        reasons = "<br>".join(s.reasons).replace("|", "\\|")
        mark = "✓" if s.algorithm in chosen else ""
        lines.append(
            f"| {s.rank} | {s.algorithm} | {s.family} | {s.score} | {mark} | {reasons} "
            f"| {_space(s.search_space)} |"
        )
    c = recommendation.characteristics
    lines += [
        "",
        f"**Metric:** `{recommendation.primary_metric}` — "
        + " ".join(recommendation.metric_reasons),
        "",
        f"**Validation:** `{recommendation.validation}`, {recommendation.cv_folds} folds — "
        + "; ".join(recommendation.validation_reasons),
        "",
        "**Class weights:** "
        + ("none or balanced, tuned" if recommendation.class_weight else "none"),
        "",
        f"**Data:** {c.rows:,} rows, {c.features} features ({c.numeric_features} numeric, "
        f"{c.categorical_features} categorical), {c.missing_cell_share:.1%} cells missing, "
        f"≈{c.memory_gib:.2f} GiB in memory; target `{c.target}` ({c.target_kind}).",
    ]
    lines += [f"- {note}" for note in recommendation.notes]
    return "\n".join(lines)
