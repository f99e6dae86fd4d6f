"""Train an experiment: cross-validate (and tune) each candidate algorithm, pick the best.

Selection is by the mean of the experiment's primary metric over the CV folds, in the
metric's own direction (higher AUC is better, lower RMSE is better). The winner is fit on
the training part (all rows when there is no holdout), optionally calibrated, given a
decision threshold, and scored on the final holdout; the CV scores are what the registry
and the approval gate see, the holdout scores say how it does on rows nothing tuned on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
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
from aurora_pipelines.training.decision import (
    CALIBRATION_METHODS,
    calibrated_oof,
    calibration_splitter,
    decide_calibration,
    select_threshold,
    threshold_metrics,
)
from aurora_pipelines.training.hpo import (
    HpoConfig,
    SearchOutcome,
    TrialRecord,
    check_search_space,
    fingerprint,
    tune,
    untuned,
)
from aurora_pipelines.training.validation import (
    check_target,
    check_validation,
    cv_splits,
    holdout_split,
)


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
class Evaluation:
    """Out-of-sample predictions the plots are drawn from.

    `source` is `holdout` when a final holdout exists, else `cv` (out-of-fold predictions).
    Classification: `y` holds class indices and `scores` the probability matrix;
    regression: `y` the true values and `scores` the predictions.
    """

    source: str
    y: np.ndarray
    scores: np.ndarray
    classes: list[str] | None = None


@dataclass
class TrainingResult:
    """The chosen, fitted model and the evidence for choosing it."""

    problem_type: str
    target: str
    primary_metric: str
    best_algorithm: str
    model: Any
    feature_columns: list[str]
    metrics: dict[str, float]
    cv: dict[str, dict[str, list[float]]]
    leaderboard: list[dict[str, Any]]
    params: dict[str, Any]
    n_rows: int
    cv_folds: int
    seed: int
    class_balance: dict[str, float] | None = None
    validation: str = "kfold"
    n_train_rows: int = 0
    holdout_metrics: dict[str, float] = field(default_factory=dict)
    best_params: dict[str, Any] = field(default_factory=dict)
    trials: list[TrialRecord] = field(default_factory=list)
    calibration: str = "none"
    class_weight: str | None = None
    decision_threshold: float | None = None
    threshold_metric: str | None = None
    evaluation: Evaluation | None = None
    feature_importance: dict[str, float] = field(default_factory=dict)
    family: str = "sklearn"

    @property
    def primary_score(self) -> float:
        return self.metrics[self.primary_metric]

    @property
    def n_holdout_rows(self) -> int:
        return self.n_rows - self.n_train_rows


class _CvEvaluator:
    """Cross-validates one configuration of a pipeline on fixed folds (an hpo.Evaluate)."""

    def __init__(
        self,
        base: Pipeline,
        X: pd.DataFrame,
        y: pd.Series,
        y_eval: np.ndarray,
        splits: list[tuple[np.ndarray, np.ndarray]],
        metrics: dict[str, Metric],
        primary: Metric,
        classes: np.ndarray | None,
    ) -> None:
        self.base, self.X, self.y, self.y_eval = base, X, y, y_eval
        self.splits, self.metrics, self.primary, self.classes = splits, metrics, primary, classes

    def __call__(
        self, params: dict[str, Any], report: Callable[[int, float], None] | None
    ) -> tuple[dict[str, list[float]], np.ndarray]:
        pipeline = configure(self.base, params)
        width = len(self.classes) if self.classes is not None else 1
        oof = np.full((len(self.X), width), np.nan)
        scores: dict[str, list[float]] = {name: [] for name in self.metrics}
        for step, (train_idx, test_idx) in enumerate(self.splits):
            fold = clone(pipeline).fit(self.X.iloc[train_idx], self.y.iloc[train_idx])
            X_test = self.X.iloc[test_idx]
            if self.classes is not None:
                pred = _proba_in_class_order(fold, X_test, self.classes)
                args: tuple[Any, ...] = (pred, len(self.classes))
            else:
                pred = np.asarray(fold.predict(X_test), dtype=float).reshape(-1, 1)
                args = (pred[:, 0],)
            oof[test_idx] = pred
            for name, metric in self.metrics.items():
                scores[name].append(metric.score(self.y_eval[test_idx], *args))
            if report is not None:
                report(step, float(np.mean(scores[self.primary.name])))
        return scores, oof


def configure(pipeline: Pipeline, params: dict[str, Any]) -> Pipeline:
    """An unfitted copy of `pipeline` with estimator hyperparameters `params` set."""
    configured = clone(pipeline)
    if params:
        configured.set_params(**{f"model__{name}": value for name, value in params.items()})
    return configured


def _with_class_weight(pipeline: Pipeline) -> Pipeline:
    estimator = pipeline.named_steps["model"]
    if "class_weight" in estimator.get_params(deep=False):
        pipeline.set_params(model__class_weight="balanced")
    return pipeline


def check_columns(
    df: pd.DataFrame, *, target: str, id_column: str | None, time_column: str | None
) -> None:
    """SourceError naming the spec field whose column is not in `df`."""
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
    validation: str = "kfold",
    holdout_fraction: float = 0.0,
    class_weight: bool = False,
    hpo: HpoConfig | None = None,
    search_spaces: dict[str, dict[str, dict[str, Any]]] | None = None,
    calibration: str = "none",
    threshold: float | None = None,
) -> TrainingResult:
    """Cross-validate (and tune) `algorithms` on `df`, pick the best by `primary_metric`.

    `validation` is `kfold` (stratified for classification) or `time` (expanding windows in
    `time_column` order). With `holdout_fraction` > 0 that share of rows (the latest, for
    time validation) stays out of CV and tuning: the chosen model is fit on the rest and
    scored on it; otherwise it is fit on all rows. With `hpo`, Optuna tunes each
    algorithm's search space (trial 0 = defaults). Deterministic for the same data, seed
    and settings whenever the trial budget (not the time budget) ends the search.
    """
    # Validate everything the spec controls before touching the data.
    metric = get_metric(primary_metric, problem_type)
    specs = [get_algorithm(name, problem_type) for name in dict.fromkeys(algorithms)]
    if not specs:
        raise SpecError("no algorithms to train; list at least one in `training.algorithms`")
    distributed = [s.name for s in specs if s.family == "spark"]
    if distributed:
        raise SpecError(
            f"{', '.join(distributed)} train on Spark (spark_ml.train_spark), not in process; "
            "list only sklearn/torch algorithms in `training.algorithms`"
        )
    check_validation(validation, time_column)
    if calibration not in CALIBRATION_METHODS:
        raise SpecError(
            f"unknown calibration '{calibration}' (known: {', '.join(CALIBRATION_METHODS)}); "
            "fix `training.calibration`"
        )
    spaces = {s.name: dict((search_spaces or {}).get(s.name, s.search_space)) for s in specs}
    for name, space in spaces.items():
        check_search_space(name, space)
    check_columns(df, target=target, id_column=id_column, time_column=time_column)
    if validation == "time":
        # Folds and holdout follow time order: train on the past, validate on the future.
        df = df.sort_values(time_column, kind="mergesort", na_position="first")
        df = df.reset_index(drop=True)
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

    train_pos, holdout_pos = holdout_split(
        y_eval,
        fraction=holdout_fraction,
        validation=validation,
        problem_type=problem_type,
        seed=seed,
    )
    X_train, y_train, ye_train = X.iloc[train_pos], y.iloc[train_pos], y_eval[train_pos]
    if len(holdout_pos):
        check_target(y_train, problem_type=problem_type, cv_folds=cv_folds)
    splits = cv_splits(problem_type, validation, cv_folds, seed, ye_train)

    tuning = hpo if hpo is not None and hpo.n_trials > 0 else None
    study_key = ""
    if tuning is not None:
        settings = {
            "problem_type": problem_type,
            "metric": primary_metric,
            "folds": cv_folds,
            "seed": seed,
            "validation": validation,
            "holdout": holdout_fraction,
            "class_weight": class_weight,
            "spaces": spaces,
        }
        study_key = fingerprint(X_train, y_train, settings)
    outcomes: dict[str, SearchOutcome] = {}
    bases: dict[str, Pipeline] = {}
    for spec in specs:
        base = build_pipeline(spec, problem_type, features, seed)
        if class_weight and problem_type == "classification":
            base = _with_class_weight(base)
        bases[spec.name] = base
        evaluate = _CvEvaluator(base, X_train, y_train, ye_train, splits, metrics, metric, classes)
        space = spaces[spec.name]
        if tuning is not None and space:
            timeout = tuning.timeout_seconds / len(specs) if tuning.timeout_seconds else None
            outcomes[spec.name] = tune(
                spec.name,
                space,
                evaluate,
                primary=metric.name,
                greater_is_better=metric.greater_is_better,
                config=tuning,
                seed=seed,
                study_key=study_key,
                timeout_seconds=timeout,
            )
        else:
            outcomes[spec.name] = untuned(spec.name, evaluate, {}, metric.name)

    cv = {name: outcome.scores for name, outcome in outcomes.items()}
    leaderboard = _leaderboard(cv, metric)
    for row in leaderboard:
        outcome = outcomes[row["algorithm"]]
        row["family"] = get_algorithm(row["algorithm"], problem_type).family
        row["trials"] = len(outcome.trials)
        row["params"] = outcome.params
    best = leaderboard[0]["algorithm"]
    best_outcome = outcomes[best]
    best_pipeline = configure(bases[best], best_outcome.params)

    method = decide_calibration(calibration, best_outcome.oof, ye_train, classes, seed)
    model: Any = best_pipeline
    if method != "none":
        model = CalibratedClassifierCV(
            best_pipeline, method=method, cv=calibration_splitter(validation, seed)
        )
    model.fit(X_train, y_train)

    chosen_threshold, threshold_metric = None, None
    if classes is not None and len(classes) == 2:
        if threshold is not None:
            chosen_threshold, threshold_metric = float(threshold), "spec"
        else:
            positive = calibrated_oof(best_outcome.oof, ye_train, method)
            chosen_threshold, threshold_metric = select_threshold(
                ye_train, positive, primary_metric
            )

    holdout_metrics: dict[str, float] = {}
    importance: dict[str, float] = {}
    if len(holdout_pos):
        X_hold, ye_hold = X.iloc[holdout_pos], y_eval[holdout_pos]
        if classes is not None:
            scores = _proba_in_class_order(model, X_hold, classes)
            holdout_metrics = {
                name: m.score(ye_hold, scores, len(classes)) for name, m in metrics.items()
            }
            if chosen_threshold is not None:
                holdout_metrics.update(threshold_metrics(ye_hold, scores[:, 1], chosen_threshold))
        else:
            scores = np.asarray(model.predict(X_hold), dtype=float)
            holdout_metrics = {name: m.score(ye_hold, scores) for name, m in metrics.items()}
        evaluation = Evaluation("holdout", ye_hold, scores, _labels(classes))
        importance = permutation_importances(model, X_hold, ye_hold, metric, classes, seed=seed)
    else:
        available = ~np.isnan(best_outcome.oof).any(axis=1)
        oof = best_outcome.oof[available]
        evaluation = Evaluation(
            "cv", ye_train[available], oof if classes is not None else oof[:, 0], _labels(classes)
        )

    class_balance = None
    if classes is not None:
        shares = y.value_counts(normalize=True).sort_index()
        class_balance = {str(label): round(float(share), 6) for label, share in shares.items()}
    params = _key_params(best_pipeline, best, cv_folds, seed)
    params.update({"validation": validation, "holdout_fraction": holdout_fraction})
    params["calibration"] = method
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
        params=params,
        n_rows=len(df),
        cv_folds=cv_folds,
        seed=seed,
        class_balance=class_balance,
        validation=validation,
        n_train_rows=len(train_pos),
        holdout_metrics=holdout_metrics,
        best_params=best_outcome.params,
        trials=[t for name in cv for t in outcomes[name].trials],
        calibration=method,
        class_weight="balanced" if class_weight and classes is not None else None,
        decision_threshold=chosen_threshold,
        threshold_metric=threshold_metric,
        evaluation=evaluation,
        feature_importance=importance,
        family=get_algorithm(best, problem_type).family,
    )


def _labels(classes: np.ndarray | None) -> list[str] | None:
    return None if classes is None else [str(c) for c in classes]


def permutation_importances(
    model: Any,
    X: pd.DataFrame,
    y_eval: np.ndarray,
    metric: Metric,
    classes: np.ndarray | None,
    *,
    seed: int,
    max_rows: int = 2000,
) -> dict[str, float]:
    """Drop in the primary metric when each input column is shuffled, on held-out rows."""
    from sklearn.inspection import permutation_importance

    if len(X) > max_rows:
        picked = np.random.default_rng(seed).choice(len(X), size=max_rows, replace=False)
        X, y_eval = X.iloc[np.sort(picked)], y_eval[np.sort(picked)]
    if classes is not None and len(np.unique(y_eval)) < 2:
        return {}

    def scorer(estimator: Any, X_: pd.DataFrame, y_: np.ndarray) -> float:
        if classes is not None:
            proba = _proba_in_class_order(estimator, X_, classes)
            value = metric.score(y_, proba, len(classes))
        else:
            value = metric.score(y_, np.asarray(estimator.predict(X_), dtype=float))
        return value if metric.greater_is_better else -value

    result = permutation_importance(
        model, X, y_eval, scoring=scorer, n_repeats=3, random_state=seed
    )
    ranked = sorted(zip(X.columns, result.importances_mean, strict=True), key=lambda c: -c[1])
    return {str(column): float(value) for column, value in ranked}


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
