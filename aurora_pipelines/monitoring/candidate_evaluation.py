"""Champion comparison (`train/champion_comparison`): a newly trained candidate vs the serving
champion on the same recent labelled rows — the evidence approvers read.

Both registered versions score the same rows — the latest scoring batch joined to its labels
(labels arrive later, in the spec's `monitoring.labels` table) — and the metric the candidate
was trained on is computed for each with the training scorer. A point difference alone is
noise as often as not, so the improvement comes with a 95% interval over the same rows: for
binary ROC AUC DeLong's paired variance, for every other metric a seeded paired bootstrap
(both models on the same resampled rows). The candidate is *better* only when the interval's
lower bound exceeds the spec's `monitoring.min_improvement` — in the metric's units, positive
meaning better whatever the metric's direction. The report never promotes anything: the
candidate still needs the staging and production approvals.

Not to be confused with the A/B comparison (`serving/ab_comparison.py`, champion vs
challenger on the same day's batch) or the canary evaluation (`deploy/canary.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel

from aurora_pipelines.errors import DataError
from aurora_pipelines.monitoring.performance import label_text, metric_value
from aurora_pipelines.results import Markdown, MetadataDict

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from aurora_pipelines.registry.model_version import ModelVersion
    from aurora_pipelines.specs import ExperimentSpec, SourceSpec

MAX_ROWS = 50_000
CONFIDENCE = 0.95
RESAMPLES = 500
SEED = 0


class CandidateEvaluation(BaseModel):
    metric: str
    greater_is_better: bool
    champion_version: str
    candidate_version: str
    champion_value: float
    candidate_value: float
    improvement: float  # positive = the candidate is better
    ci_low: float  # the interval of `improvement`
    ci_high: float
    confidence: float
    method: str  # "delong" or "paired_bootstrap"
    resamples: int  # bootstrap resamples used (0 for DeLong)
    min_improvement: float
    candidate_better: bool  # ci_low > min_improvement
    rows: int
    data: str

    def markdown(self) -> str:
        verdict = "better" if self.candidate_better else "not better"
        return (
            f"| model | version | {self.metric} |\n|---|---|---|\n"
            f"| champion | v{self.champion_version} | {self.champion_value:.4f} |\n"
            f"| candidate | v{self.candidate_version} | {self.candidate_value:.4f} |\n\n"
            f"Candidate is **{verdict}**: improvement {self.improvement:+.4f}, "
            f"{self.confidence:.0%} interval [{self.ci_low:+.4f}, {self.ci_high:+.4f}] "
            f"({self.method.replace('_', ' ')}), required above {self.min_improvement:+.4f}; "
            f"on {self.rows} labelled rows ({self.data}). It serves only after the staging "
            "and production approvals."
        )

    def as_metadata(self) -> MetadataDict:
        return {
            "compared": True,
            **{
                k: getattr(self, k)
                for k in (
                    "champion_version",
                    "candidate_version",
                    "metric",
                    "champion_value",
                    "candidate_value",
                    "improvement",
                    "ci_low",
                    "ci_high",
                    "confidence",
                    "method",
                    "min_improvement",
                    "candidate_better",
                    "rows",
                )
            },
            "comparison": Markdown(self.markdown()),
        }


class Interval(BaseModel):
    """A paired improvement (positive = better) and its interval."""

    improvement: float
    low: float
    high: float
    method: str
    resamples: int = 0


def latest_labelled_rows(
    spark: SparkSession,
    features_path: Path,
    labels: SourceSpec,
    *,
    id_column: str,
    target: str,
    max_rows: int = MAX_ROWS,
) -> pd.DataFrame:
    """The latest scoring batch's rows that have a label by now, with the label as `target`."""
    from pyspark.sql import functions as F

    from aurora_pipelines.lake import delta
    from aurora_pipelines.sources.readers import read_source

    key = F.col(id_column).cast("string")
    known = read_source(spark, labels).select(key.alias("__id"), F.col(target).alias("__label"))
    rows = delta.read_spark(spark, features_path)
    rows = rows.drop(target) if target in rows.columns else rows
    return (
        rows.withColumn("__id", key)
        .join(known, "__id")
        .where(F.col("__label").isNotNull())
        .limit(max_rows)
        .toPandas()
        .rename(columns={"__label": target})
    )


def evaluate_candidate(
    champion: ModelVersion,
    candidate: ModelVersion,
    labelled: pd.DataFrame,
    *,
    target: str,
    min_improvement: float,
    data: str,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> CandidateEvaluation:
    """Score `labelled` with both versions and compare them on the candidate's metric."""
    if labelled.empty:
        raise DataError(f"no labelled rows to compare the candidate on ({data})")
    metric, problem_type = candidate.primary_metric, candidate.problem_type
    classes = [str(c) for c in candidate.classes] if candidate.is_multiclass else []
    y = labelled[target]
    if classes:
        index = {label: i for i, label in enumerate(classes)}
        y = label_text(y).map(index)
        if y.isna().any():
            raise DataError(f"labels outside the candidate's classes ({', '.join(classes)})")
    predictions = [_predictions(v, labelled, classes) for v in (champion, candidate)]
    interval = paired_interval(
        y.to_numpy(),
        *predictions,
        metric=metric,
        problem_type=problem_type,
        greater_is_better=candidate.greater_is_better,
        resamples=resamples,
        seed=seed,
    )
    values = [_metric(metric, problem_type, y.to_numpy(), p) for p in predictions]
    return CandidateEvaluation(
        metric=metric,
        greater_is_better=candidate.greater_is_better,
        champion_version=champion.version,
        candidate_version=candidate.version,
        champion_value=round(values[0], 6),
        candidate_value=round(values[1], 6),
        improvement=round(interval.improvement, 6),
        ci_low=round(interval.low, 6),
        ci_high=round(interval.high, 6),
        confidence=CONFIDENCE,
        method=interval.method,
        resamples=interval.resamples,
        min_improvement=min_improvement,
        candidate_better=bool(interval.low > min_improvement),
        rows=len(labelled),
        data=data,
    )


def _predictions(version: ModelVersion, frame: pd.DataFrame, classes: list[str]) -> np.ndarray:
    """Regression: predictions; binary: the positive class's probability; multiclass: the
    probabilities in the order of `classes` (a class the version never saw scores 0)."""
    features = frame[list(version.input_columns)]
    if not version.is_classifier:
        return np.asarray(version.model.predict(features), dtype="float64")
    raw = np.asarray(version.model.predict_proba(features), dtype="float64")
    if not classes:
        return raw[:, 1]
    own = [str(c) for c in version.classes]
    out = np.zeros((len(frame), len(classes)))
    for j, label in enumerate(own):
        if label in classes:
            out[:, classes.index(label)] = raw[:, j]
    return out


def _metric(metric: str, problem_type: str, y: np.ndarray, prediction: np.ndarray) -> float:
    if prediction.ndim == 2:
        return metric_value(metric, problem_type, y, prediction.max(axis=1), prediction)
    return metric_value(metric, problem_type, y, prediction)


def paired_interval(
    y: np.ndarray,
    champion: np.ndarray,
    candidate: np.ndarray,
    *,
    metric: str,
    problem_type: str,
    greater_is_better: bool,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = CONFIDENCE,
) -> Interval:
    """The candidate's improvement over the champion on the same rows (positive = better,
    whatever the metric's direction) and its `confidence` interval."""
    sign = 1.0 if greater_is_better else -1.0
    if metric == "roc_auc" and problem_type == "classification" and champion.ndim == 1:
        return delong_interval(y.astype("int64"), champion, candidate, confidence)

    def improvement(rows: np.ndarray) -> float:
        yy = y[rows]
        return sign * (
            _metric(metric, problem_type, yy, candidate[rows])
            - _metric(metric, problem_type, yy, champion[rows])
        )

    return bootstrap_interval(improvement, len(y), resamples, seed, confidence)


def bootstrap_interval(
    improvement: Callable[[np.ndarray], float],
    rows: int,
    resamples: int,
    seed: int,
    confidence: float,
) -> Interval:
    """Percentile interval of `improvement(row indices)` over seeded resamples of the rows."""
    rng = np.random.default_rng(seed)
    point = improvement(np.arange(rows))
    draws = []
    for _ in range(resamples):
        try:
            draws.append(improvement(rng.integers(0, rows, rows)))
        except (DataError, ValueError):
            continue  # a resample with one class only has no AUC / AP: leave it out
    if len(draws) < resamples // 2:
        raise DataError(
            f"only {len(draws)} of {resamples} resamples of the {rows} labelled rows could be "
            "scored (too few rows of a class); wait for more labels"
        )
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(
        improvement=point,
        low=float(low),
        high=float(high),
        method="paired_bootstrap",
        resamples=len(draws),
    )


def delong_interval(
    y: np.ndarray, champion: np.ndarray, candidate: np.ndarray, confidence: float = CONFIDENCE
) -> Interval:
    """AUC(candidate) - AUC(champion) with DeLong's variance for two correlated ROC curves
    (DeLong, DeLong & Clarke-Pearson 1988; the midrank form of Sun & Xu 2014)."""
    from scipy.stats import norm, rankdata

    positive, negative = y == 1, y == 0
    m, n = int(positive.sum()), int(negative.sum())
    if m == 0 or n == 0:
        raise DataError("the labelled rows hold one class only; ROC AUC needs both")
    aucs, v10, v01 = [], [], []
    for scores in (champion, candidate):
        pos, neg = scores[positive], scores[negative]
        ranks = rankdata(np.concatenate([pos, neg]))
        pos_ranks, neg_ranks = rankdata(pos), rankdata(neg)
        aucs.append((ranks[:m].sum() - m * (m + 1) / 2) / (m * n))
        v10.append((ranks[:m] - pos_ranks) / n)  # per positive: share of negatives below it
        v01.append(1 - (ranks[m:] - neg_ranks) / m)  # per negative: share of positives above
    s10, s01 = np.cov(np.array(v10)), np.cov(np.array(v01))
    variance = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (
        s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]
    ) / n
    diff = float(aucs[1] - aucs[0])
    half = float(norm.ppf(1 - (1 - confidence) / 2) * np.sqrt(max(variance, 0.0)))
    return Interval(improvement=diff, low=diff - half, high=diff + half, method="delong")


def write_report(evaluation: CandidateEvaluation, directory: Path) -> Path:
    """The evaluation as Markdown and JSON beside each other; returns the JSON's path."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"champion_comparison_v{evaluation.candidate_version}"
    (directory / f"{stem}.md").write_text(evaluation.markdown(), encoding="utf-8")
    path = directory / f"{stem}.json"
    path.write_text(json.dumps(evaluation.model_dump(), indent=2), encoding="utf-8")
    return path


@dataclass(frozen=True)
class ComparisonSkipped:
    """Why no champion comparison was made (nothing to compare, or nothing to compare on)."""

    reason: str
    champion: str | None

    def as_metadata(self) -> MetadataDict:
        return {"compared": False, "reason": self.reason, "champion": self.champion or "none"}


def run_champion_comparison(
    spark: SparkSession,
    spec: ExperimentSpec,
    *,
    tracking_uri: str,
    champion: str | None,
    candidate: str | None,
    scoring_features: Path,
    reports_dir: Path,
) -> tuple[CandidateEvaluation | ComparisonSkipped, Path | None]:
    """train/champion_comparison: `candidate` (the version train/model produced) vs the serving
    `champion` on the latest labelled scoring rows; (result, report path)."""
    from aurora_pipelines.lake import delta
    from aurora_pipelines.registry.model_version import load_model_version

    labels = spec.monitoring.labels
    reason = None
    if champion is None:
        reason = "no champion yet: the first model has nothing to be compared with"
    elif candidate is None or candidate == champion:
        reason = f"the training candidate v{candidate} is the champion"
    elif labels is None or not spec.id_column:
        reason = "no labels table (spec monitoring.labels) to compare on"
    elif not delta.is_delta_table(scoring_features):
        reason = "no scoring batch yet (serve/scoring_features)"
    if reason:
        return ComparisonSkipped(reason, champion), None
    labelled = latest_labelled_rows(
        spark, scoring_features, labels, id_column=spec.id_column, target=spec.target
    )
    champion_handle, candidate_handle = (
        load_model_version(
            tracking_uri,
            spec.name,
            version,
            problem_type=spec.problem_type.value,
            primary_metric=spec.training.primary_metric,
        )
        for version in (champion, candidate)
    )
    result = evaluate_candidate(
        champion_handle,
        candidate_handle,
        labelled,
        target=spec.target,
        min_improvement=spec.monitoring.min_improvement,
        data=f"latest scoring batch joined to {labels.display}",
    )
    return result, write_report(result, reports_dir)
