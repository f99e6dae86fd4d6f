"""Model performance of a window once its labels arrive, compared with training.

Labels come later, in their own table (id + target). A window's scores are joined to them by
the entity id on Spark; only the joined (label, score) pairs — two numbers per labelled row —
reach the driver, where the experiment's primary metric is computed with the same scorer as
training (`training.trainer.get_metric`). The training value is the champion version's MLflow
metric (`holdout_<metric>` when a holdout existed, else the CV mean).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from aurora_pipelines.errors import DataError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


class WindowPerformance(BaseModel):
    window: str
    metric: str
    value: float
    training_value: float | None
    change: float | None  # value - training_value
    drop: float | None  # how much worse than training (positive = worse)
    tolerance: float
    degraded: bool
    labelled_rows: int
    model_version: str | None = None


def training_metric(metrics: dict[str, float], metric: str) -> float | None:
    """The champion's training value of `metric` (holdout first, else the CV mean)."""
    for key in (f"holdout_{metric}", metric):
        if key in metrics:
            return float(metrics[key])
    return None


def labelled_scores(
    scores: DataFrame, labels: DataFrame, *, id_column: str, target: str
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, scores) of the window's rows that have a label, joined on Spark."""
    from pyspark.sql import functions as F

    joined = scores.select(F.col(id_column).cast("string").alias("__id"), "score").join(
        labels.select(
            F.col(id_column).cast("string").alias("__id"), F.col(target).alias("__label")
        ),
        "__id",
    )
    pairs = joined.where(F.col("__label").isNotNull()).select("__label", "score").toPandas()
    return pairs["__label"].to_numpy(), pairs["score"].to_numpy(dtype="float64")


def metric_value(metric: str, problem_type: str, y: np.ndarray, score: np.ndarray) -> float:
    from aurora_pipelines.training.trainer import get_metric

    scorer = get_metric(metric, problem_type)
    if problem_type == "regression":
        return scorer.score(y.astype("float64"), score)
    y = y.astype("int64")
    if len(np.unique(y)) < 2 and metric in ("roc_auc", "average_precision"):
        raise DataError(
            f"the window's labels hold one class only; {metric} needs both — "
            "wait for more labels or widen the window"
        )
    return scorer.score(y, np.column_stack([1 - score, score]), 2)


def window_performance(
    y: np.ndarray,
    score: np.ndarray,
    *,
    window: str,
    metric: str,
    problem_type: str,
    training_metrics: dict[str, float],
    tolerance: float,
    model_version: str | None = None,
) -> WindowPerformance:
    """The window's primary metric, its change vs training and whether it dropped too far."""
    from aurora_pipelines.training.trainer import get_metric

    if len(y) == 0:
        raise DataError(
            f"window {window} has no labelled rows yet; labels join the scores by id — "
            "check the labels table and the window"
        )
    value = metric_value(metric, problem_type, y, score)
    trained = training_metric(training_metrics, metric)
    change = None if trained is None else value - trained
    better_up = get_metric(metric, problem_type).greater_is_better
    drop = None if change is None else (-change if better_up else change)
    return WindowPerformance(
        window=window,
        metric=metric,
        value=round(value, 6),
        training_value=trained,
        change=None if change is None else round(change, 6),
        drop=None if drop is None else round(drop, 6),
        tolerance=tolerance,
        degraded=bool(drop is not None and drop > tolerance),
        labelled_rows=len(y),
        model_version=model_version,
    )


def as_row(result: WindowPerformance) -> dict[str, Any]:
    return result.model_dump()
