"""Train an experiment: cross-validate each candidate algorithm, pick the best, refit it.

Selection is by the mean of the experiment's primary metric over the CV folds, in the
metric's own direction (higher AUC is better, lower RMSE is better). The winner is refit
on all rows; the CV scores are what the registry and the approval gate see.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import label_binarize

from aurora_pipelines.errors import DataError, SourceError, SpecError
from aurora_pipelines.training.algorithms import (
    build_pipeline,
    check_problem_type,
    get_algorithm,
    select_feature_columns,
)
from aurora_pipelines.training.validation import check_target, cv_splitter


@dataclass(frozen=True)
class Metric:
    """A CV metric: how to compute it and whether bigger is better."""

    name: str
    greater_is_better: bool
    # classification: (y as class indices, probabilities, n_classes); regression: (y, pred)
    score: Callable[..., float]


def _positive_or_ovr(fn: Callable[..., float]) -> Callable[..., float]:
    # Binary metrics score the positive class's probability; multiclass ones go one-vs-rest.
    def score(y: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
        if n_classes == 2:
            return float(fn(y, proba[:, 1]))
        return float(fn(label_binarize(y, classes=range(n_classes)), proba, average="macro"))

    return score


def _f1(y: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    pred = proba.argmax(axis=1)
    return float(f1_score(y, pred, average="binary" if n_classes == 2 else "macro"))


CLASSIFICATION_METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", True, _positive_or_ovr(roc_auc_score)),
        Metric("average_precision", True, _positive_or_ovr(average_precision_score)),
        Metric("accuracy", True, lambda y, p, k: float(accuracy_score(y, p.argmax(axis=1)))),
        Metric("f1", True, _f1),
        Metric("log_loss", False, lambda y, p, k: float(log_loss(y, p, labels=range(k)))),
    ]
}
REGRESSION_METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("rmse", False, lambda y, p: float(np.sqrt(mean_squared_error(y, p)))),
        Metric("mae", False, lambda y, p: float(mean_absolute_error(y, p))),
        Metric("r2", True, lambda y, p: float(r2_score(y, p))),
    ]
}


def metrics_for(problem_type: str) -> dict[str, Metric]:
    check_problem_type(problem_type)
    return CLASSIFICATION_METRICS if problem_type == "classification" else REGRESSION_METRICS


def get_metric(name: str, problem_type: str) -> Metric:
    """The metric `name` for `problem_type`; SpecError lists the valid names."""
    metrics = metrics_for(problem_type)
    if name not in metrics:
        raise SpecError(
            f"unknown {problem_type} metric '{name}' (known: {', '.join(metrics)}); "
            "fix `training.primary_metric` in the experiment spec"
        )
    return metrics[name]


@dataclass
class TrainingResult:
    """The chosen, refit model and the evidence for choosing it."""

    problem_type: str
    target: str
    primary_metric: str
    best_algorithm: str
    model: Pipeline
    feature_columns: list[str]
    metrics: dict[str, float]
    cv: dict[str, dict[str, list[float]]]
    leaderboard: list[dict[str, Any]]
    params: dict[str, Any]
    n_rows: int
    cv_folds: int
    seed: int
    class_balance: dict[str, float] | None = None

    @property
    def primary_score(self) -> float:
        return self.metrics[self.primary_metric]


def train_experiment(
    df: pd.DataFrame,
    *,
    target: str,
    problem_type: str,
    algorithms: list[str],
    cv_folds: int,
    seed: int,
    primary_metric: str,
    id_column: str | None = None,
    time_column: str | None = None,
) -> TrainingResult:
    """Cross-validate `algorithms` on `df`, pick the best by `primary_metric`, refit on all rows.

    Deterministic for the same data, seed and algorithm list.
    """
    # Validate everything the spec controls before touching the data.
    metric = get_metric(primary_metric, problem_type)
    specs = [get_algorithm(name, problem_type) for name in dict.fromkeys(algorithms)]
    if not specs:
        raise SpecError("no algorithms to train; list at least one in `training.algorithms`")
    for role, column in (
        ("target", target),
        ("id_column", id_column),
        ("time_column", time_column),
    ):
        if column and column not in df.columns:
            raise SourceError(
                f"{role} '{column}' is not a column of the training data "
                f"(columns: {', '.join(map(str, df.columns[:12]))}"
                f"{', ...' if len(df.columns) > 12 else ''}); fix the spec's `{role}`"
            )
    y = df[target]
    check_target(y, problem_type=problem_type, cv_folds=cv_folds)
    features = select_feature_columns(df, target=target, exclude=[id_column, time_column])
    if not features.all:
        raise DataError(
            f"no usable feature columns besides target '{target}', id and date columns; "
            "add features in the feature model"
        )
    X = df[features.all]
    metrics = metrics_for(problem_type)

    classes: np.ndarray | None = None
    y_eval: np.ndarray = y.to_numpy()
    if problem_type == "classification":
        # Metrics work on class indices in sorted-label order, the order of predict_proba.
        classes = np.unique(y.to_numpy())
        y_eval = np.searchsorted(classes, y.to_numpy())

    splits = list(cv_splitter(problem_type, cv_folds, seed).split(X, y_eval))
    cv: dict[str, dict[str, list[float]]] = {}
    for spec in specs:
        pipeline = build_pipeline(spec, problem_type, features, seed)
        cv[spec.name] = _cross_validate(pipeline, X, y, y_eval, splits, metrics, classes)

    leaderboard = _leaderboard(cv, metric)
    best = leaderboard[0]["algorithm"]
    model = build_pipeline(get_algorithm(best, problem_type), problem_type, features, seed)
    model.fit(X, y)

    class_balance = None
    if classes is not None:
        shares = y.value_counts(normalize=True).sort_index()
        class_balance = {str(label): round(float(share), 6) for label, share in shares.items()}
    return TrainingResult(
        problem_type=problem_type,
        target=target,
        primary_metric=primary_metric,
        best_algorithm=best,
        model=model,
        feature_columns=features.all,
        metrics={name: float(np.mean(values)) for name, values in cv[best].items()},
        cv=cv,
        leaderboard=leaderboard,
        params=_key_params(model, best, cv_folds, seed),
        n_rows=len(df),
        cv_folds=cv_folds,
        seed=seed,
        class_balance=class_balance,
    )


def _cross_validate(
    pipeline: Pipeline,
    X: pd.DataFrame,
    y: pd.Series,
    y_eval: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    metrics: dict[str, Metric],
    classes: np.ndarray | None,
) -> dict[str, list[float]]:
    scores: dict[str, list[float]] = {name: [] for name in metrics}
    for train_idx, test_idx in splits:
        fold = clone(pipeline).fit(X.iloc[train_idx], y.iloc[train_idx])
        X_test = X.iloc[test_idx]
        if classes is not None:
            proba = _proba_in_class_order(fold, X_test, classes)
            for name, metric in metrics.items():
                scores[name].append(metric.score(y_eval[test_idx], proba, len(classes)))
        else:
            pred = fold.predict(X_test)
            for name, metric in metrics.items():
                scores[name].append(metric.score(y_eval[test_idx], pred))
    return scores


def _proba_in_class_order(model: Pipeline, X: pd.DataFrame, classes: np.ndarray) -> np.ndarray:
    # Stratified folds give every class to every training split, but align defensively.
    raw = model.predict_proba(X)
    proba = np.zeros((len(X), len(classes)))
    proba[:, np.searchsorted(classes, model.classes_)] = raw
    return proba


def _leaderboard(cv: dict[str, dict[str, list[float]]], primary: Metric) -> list[dict[str, Any]]:
    rows = []
    for algorithm, scores in cv.items():
        row: dict[str, Any] = {"algorithm": algorithm}
        for name, values in scores.items():
            row[name] = float(np.mean(values))
            row[f"{name}_std"] = float(np.std(values))
        rows.append(row)
    sign = -1.0 if primary.greater_is_better else 1.0
    # Ties keep the caller's order (sorted is stable), so the result is deterministic.
    rows.sort(key=lambda r: sign * r[primary.name])
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def _key_params(model: Pipeline, algorithm: str, cv_folds: int, seed: int) -> dict[str, Any]:
    estimator = model.named_steps["model"]
    params: dict[str, Any] = {
        "algorithm": algorithm,
        "estimator": type(estimator).__name__,
        "cv_folds": cv_folds,
        "seed": seed,
    }
    for name, value in estimator.get_params(deep=False).items():
        # Only plain values: they go to MLflow params and the model card as text.
        if value == "deprecated":  # sklearn's placeholder for a parameter being removed
            continue
        if value is None or isinstance(value, bool | int | float | str):
            params[name] = value
    return params
