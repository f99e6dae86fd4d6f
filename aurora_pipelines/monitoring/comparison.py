"""Candidate vs champion on the same recent labelled data: the comparison report approvers read.

Both registered versions score the same rows — the latest scoring batch joined to its labels
(labels arrive later, in the spec's `monitoring.labels` table) — and the experiment's primary
metric is computed for each with the training scorer. The report never promotes anything:
the candidate still needs the staging and production approvals.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from aurora_pipelines.monitoring.performance import metric_value

MAX_ROWS = 50_000


class Comparison(BaseModel):
    metric: str
    greater_is_better: bool
    champion_version: str
    candidate_version: str
    champion_value: float
    candidate_value: float
    improvement: float  # positive = the candidate is better
    candidate_better: bool
    rows: int
    data: str

    def markdown(self) -> str:
        verdict = "better" if self.candidate_better else "not better"
        return (
            f"| model | version | {self.metric} |\n|---|---|---|\n"
            f"| champion | v{self.champion_version} | {self.champion_value:.4f} |\n"
            f"| candidate | v{self.candidate_version} | {self.candidate_value:.4f} |\n\n"
            f"Candidate is **{verdict}** by {self.improvement:+.4f} on {self.rows} labelled "
            f"rows ({self.data}). It serves only after the staging and production approvals."
        )


def _scores(model: Any, frame: pd.DataFrame, columns: list[str], problem_type: str) -> np.ndarray:
    if problem_type == "regression":
        return np.asarray(model.predict(frame[columns]), dtype="float64")
    return np.asarray(model.predict_proba(frame[columns])[:, 1], dtype="float64")


def compare_models(
    champion: tuple[str, Any, list[str]],
    candidate: tuple[str, Any, list[str]],
    labelled: pd.DataFrame,
    *,
    target: str,
    metric: str,
    problem_type: str,
    data: str,
) -> Comparison:
    """Score `labelled` with both (version, model, input columns) and compare the metric."""
    from aurora_pipelines.training.trainer import get_metric

    y = labelled[target].to_numpy()
    values = {}
    for role, (_, model, columns) in (("champion", champion), ("candidate", candidate)):
        values[role] = metric_value(
            metric, problem_type, y, _scores(model, labelled, columns, problem_type)
        )
    up = get_metric(metric, problem_type).greater_is_better
    improvement = values["candidate"] - values["champion"]
    improvement = improvement if up else -improvement
    return Comparison(
        metric=metric,
        greater_is_better=up,
        champion_version=champion[0],
        candidate_version=candidate[0],
        champion_value=round(values["champion"], 6),
        candidate_value=round(values["candidate"], 6),
        improvement=round(improvement, 6),
        candidate_better=improvement > 0,
        rows=len(labelled),
        data=data,
    )


def write_report(comparison: Comparison, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"champion_comparison_v{comparison.candidate_version}"
    (directory / f"{stem}.md").write_text(comparison.markdown(), encoding="utf-8")
    path = directory / f"{stem}.json"
    path.write_text(json.dumps(comparison.model_dump(), indent=2), encoding="utf-8")
    return path
