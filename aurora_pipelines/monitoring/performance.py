"""Model performance of a window once its labels arrive, compared with training.

Labels come later, in their own table (id + target). A window's scores are joined to them by
the entity id on Spark; only the joined (label, score) pairs — two numbers per labelled row, or
the label and the class probabilities for a multiclass model — reach the driver, where the
metric the champion was trained on is computed with the same scorer as training
(`training.trainer.get_metric`; multiclass metrics are macro averages). The training value
is the champion version's MLflow metric (`holdout_<metric>` when a holdout existed, else the
CV mean).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel

from aurora_pipelines.errors import DataError
from aurora_pipelines.monitoring.window_data import CLASS_PROBABILITIES, ID

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


@dataclass
class LabelledScores:
    """The window's labelled rows: labels and scores, and for a multiclass model the class
    probabilities (one column per class of `classes`) with the labels as class indices."""

    y: np.ndarray
    score: np.ndarray
    classes: list[str] = field(default_factory=list)
    probabilities: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)


def labelled_scores(
    window: DataFrame, labels: DataFrame, *, id_column: str, target: str, classes: list[str]
) -> LabelledScores:
    """The window's rows (`window_data.window_scores`) that have a label, joined on Spark.

    `classes` (multiclass only, else empty) orders the probability columns; rows without
    class probabilities (e.g. logged answers of an older server) cannot be scored then."""
    from pyspark.sql import functions as F

    joined = window.join(
        labels.select(F.col(id_column).cast("string").alias(ID), F.col(target).alias("__label")),
        ID,
    ).where(F.col("__label").isNotNull())
    if not classes:
        pairs = joined.select("__label", "score").toPandas()
        return LabelledScores(y=pairs["__label"].to_numpy(), score=pairs["score"].to_numpy("f8"))
    probabilities = F.array(*[F.col(CLASS_PROBABILITIES)[c].cast("double") for c in classes])
    rows = (
        joined.where(F.col(CLASS_PROBABILITIES).isNotNull())
        .select("__label", "score", probabilities.alias("__p"))
        .toPandas()
    )
    text = label_text(rows["__label"])
    unknown = sorted(set(text) - set(classes))
    if unknown:
        raise DataError(
            f"labels {', '.join(unknown[:5])} are not among the model's classes "
            f"({', '.join(classes)}); check the labels table's target column"
        )
    index = {label: i for i, label in enumerate(classes)}
    matrix = np.array(rows["__p"].tolist(), dtype="float64").reshape(len(rows), len(classes))
    return LabelledScores(
        y=text.map(index).to_numpy(dtype="int64"),
        score=rows["score"].to_numpy(dtype="float64"),
        classes=list(classes),
        probabilities=matrix,
    )


def label_text(labels: pd.Series) -> pd.Series:
    """Labels spelled as the class-probability keys: integral numbers without a '.0'."""
    if pd.api.types.is_float_dtype(labels) and (labels % 1 == 0).all():
        labels = labels.astype("int64")
    return labels.astype(str)


def metric_value(
    metric: str,
    problem_type: str,
    y: np.ndarray,
    score: np.ndarray,
    probabilities: np.ndarray | None = None,
) -> float:
    """`metric` with the training scorer: of the scores, or (multiclass) of the class
    probabilities with `y` as class indices."""
    from aurora_pipelines.training.trainer import get_metric

    scorer = get_metric(metric, problem_type)
    if problem_type == "regression":
        return scorer.score(y.astype("float64"), score)
    if probabilities is not None:
        return scorer.score(y.astype("int64"), probabilities, probabilities.shape[1])
    y = y.astype("int64")
    if len(np.unique(y)) < 2 and metric in ("roc_auc", "average_precision"):
        raise DataError(
            f"the window's labels hold one class only; {metric} needs both — "
            "wait for more labels or widen the window"
        )
    return scorer.score(y, np.column_stack([1 - score, score]), 2)


def window_performance(
    labelled: LabelledScores,
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

    if len(labelled) == 0:
        raise DataError(
            f"window {window} has no labelled rows yet; labels join the scores by id — "
            "check the labels table and the window"
        )
    value = metric_value(metric, problem_type, labelled.y, labelled.score, labelled.probabilities)
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
        labelled_rows=len(labelled),
        model_version=model_version,
    )
