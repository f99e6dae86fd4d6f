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
    AlgorithmSpec,
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
from aurora_pipelines.training.leaderboard import (
    BASELINES,
    ENSEMBLE,
    EnsembleVerdict,
    build_rows,
    soft_vote,
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
    mode: str = "tuned"  # base: defaults only; tuned: Optuna search per algorithm

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


def _takes_class_weight(pipeline: Pipeline) -> bool:
    return "class_weight" in pipeline.named_steps["model"].get_params(deep=False)


def _with_class_weight(pipeline: Pipeline) -> Pipeline:
    if _takes_class_weight(pipeline):
        pipeline.set_params(model__class_weight="balanced")
    return pipeline


# `class_weight="search"`: weights are a tuned choice whose default (trial 0) is none. Forcing
# balanced weights lost 0.018-0.024 ROC AUC to plain HistGradientBoosting on a 6%-positive
# table (benchmarks/insurance_table.py): 16x weight on few positives adds variance and does
# not help a ranking metric; the decision threshold handles the imbalance instead.
CLASS_WEIGHT_CHOICE = {"type": "categorical", "choices": [None, "balanced"], "default": None}


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
    class_weight: bool | str = False,
    hpo: HpoConfig | None = None,
    search_spaces: dict[str, dict[str, dict[str, Any]]] | None = None,
    calibration: str = "none",
    threshold: float | None = None,
    mode: str = "tuned",
    ensemble_top_k: int = 3,
    baselines: bool = True,
) -> TrainingResult:
    """Cross-validate (and tune) `algorithms` on `df`, pick the best by `primary_metric`.

    `validation` is `kfold` (stratified for classification) or `time` (expanding windows in
    `time_column` order). With `holdout_fraction` > 0 that share of rows (the latest, for
    time validation) stays out of CV and tuning: the chosen model is fit on the rest and
    scored on it; otherwise it is fit on all rows. With `hpo`, Optuna tunes each
    algorithm's search space (trial 0 = defaults); `mode="base"` trains defaults only.
    `class_weight`: True forces balanced weights, "search" makes them a tuned choice.
    The plain baselines (leaderboard.BASELINES) are added untuned when not requested, and
    a soft vote of the top `ensemble_top_k` is chosen when it beats the best by more than
    the CV noise. Deterministic for the same data, seed and settings whenever the trial
    budget (not the time budget) ends the search.
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
    if mode not in ("base", "tuned"):
        raise SpecError(f"unknown training mode '{mode}' (known: base, tuned); fix `training.mode`")
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

    roles = {s.name: "candidate" for s in specs}
    for name in BASELINES[problem_type] if baselines else ():
        if name not in roles:
            roles[name] = "baseline"
            specs.append(get_algorithm(name, problem_type))
    tuning = hpo if hpo is not None and hpo.n_trials > 0 and mode == "tuned" else None
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
    tuned_specs = [s for s in specs if roles[s.name] == "candidate"]
    for spec in specs:
        base = build_pipeline(spec, problem_type, features, seed)
        candidate = roles[spec.name] == "candidate"
        weighted = candidate and problem_type == "classification"
        if class_weight is True and weighted:
            base = _with_class_weight(base)
        bases[spec.name] = base
        evaluate = _CvEvaluator(base, X_train, y_train, ye_train, splits, metrics, metric, classes)
        space = spaces.get(spec.name, {}) if candidate else {}
        if class_weight == "search" and weighted and _takes_class_weight(base):
            space = {**space, "class_weight": CLASS_WEIGHT_CHOICE}
        if tuning is not None and space:
            # The baselines are untuned: the whole budget goes to the requested algorithms.
            share = len(tuned_specs) or 1
            timeout = tuning.timeout_seconds / share if tuning.timeout_seconds else None
            searched = tune(
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
            outcomes[spec.name] = _tuned_beyond_noise(searched, evaluate, metric)
        else:
            outcomes[spec.name] = untuned(spec.name, evaluate, {}, metric.name)

    cv = {name: outcome.scores for name, outcome in outcomes.items()}
    leaderboard = build_rows(
        outcomes,
        roles,
        {s.name: s.family for s in specs},
        primary=metric.name,
        greater_is_better=metric.greater_is_better,
        folds=len(splits),
    )
    best = leaderboard[0]["algorithm"]
    best_outcome = outcomes[best]
    best_pipeline = configure(bases[best], best_outcome.params)
    family = get_algorithm(best, problem_type).family

    def score_fold(test_idx: np.ndarray, pred: np.ndarray) -> dict[str, float]:
        args = (pred, len(classes)) if classes is not None else (pred[:, 0],)
        return {name: m.score(ye_train[test_idx], *args) for name, m in metrics.items()}

    in_process = [r for r in leaderboard if r["family"] != "torch"]  # torch: see _ensemble
    verdict = soft_vote(
        in_process,
        outcomes,
        splits,
        score_fold,
        primary=metric.name,
        greater_is_better=metric.greater_is_better,
        top_k=ensemble_top_k,
    )
    if verdict is not None:
        fit = sum(r["fit_seconds"] or 0.0 for r in leaderboard if r["algorithm"] in verdict.members)
        # Recorded either way; it heads the board only when chosen.
        row = verdict.row(metric.name, round(fit, 4))
        leaderboard.insert(0 if verdict.chosen else len(leaderboard), row)
        for rank, entry in enumerate(leaderboard, start=1):
            entry["rank"] = rank
    if verdict is not None and verdict.chosen:
        best = ENSEMBLE
        cv[ENSEMBLE] = verdict.scores
        best_outcome = SearchOutcome(
            params={"members": ",".join(verdict.members)},
            scores=verdict.scores,
            oof=verdict.oof,
            trials=[],
        )
        best_pipeline = _ensemble(verdict, bases, outcomes, specs, problem_type, features, seed)
        family = "sklearn"

    method = decide_calibration(calibration, best_outcome.oof, ye_train, classes, seed)
    model: Any = best_pipeline
    if method != "none":
        # ensemble=False: one model fit on all training rows, its calibrator fit on
        # out-of-fold predictions. The default (an average of k models each fit on (k-1)/k
        # of the rows) cost ROC AUC on small tables, where rows matter most. Time splits
        # do not cover every row, so they keep the per-split calibrated models.
        model = CalibratedClassifierCV(
            best_pipeline,
            method=method,
            cv=calibration_splitter(validation, seed),
            ensemble=validation == "time",
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
    params.update({"validation": validation, "holdout_fraction": holdout_fraction, "mode": mode})
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
        trials=[t for name in outcomes for t in outcomes[name].trials],
        calibration=method,
        class_weight=_chosen_class_weight(best_pipeline) if classes is not None else None,
        decision_threshold=chosen_threshold,
        threshold_metric=threshold_metric,
        evaluation=evaluation,
        feature_importance=importance,
        family=family,
        mode=mode,
    )


def _tuned_beyond_noise(outcome: SearchOutcome, evaluate: Any, metric: Metric) -> SearchOutcome:
    """The best trial when it beats trial 0 (the defaults) by more than the CV noise (the
    standard error of the paired per-fold differences), else the defaults.

    The best of many trials on the same folds is optimistic: on small tables a tuned value
    that wins by less than the noise scored below the plain defaults on new rows.
    """
    base = next((t for t in outcome.trials if t.number == 0 and t.state == "COMPLETE"), None)
    if base is None or not base.folds or base.params == outcome.params:
        return outcome
    sign = 1.0 if metric.greater_is_better else -1.0
    diff = sign * (np.asarray(outcome.scores[metric.name]) - np.asarray(base.folds[metric.name]))
    noise = float(np.std(diff, ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    if float(np.mean(diff)) > noise:
        return outcome
    oof = outcome.base_oof
    if oof is None:  # trial 0 ran in an earlier (resumed) process
        _, oof = evaluate(dict(base.params), None)
    return SearchOutcome(
        params=dict(base.params),
        scores=base.folds,
        oof=oof,
        trials=outcome.trials,
        study_name=outcome.study_name,
        base_oof=oof,
    )


def _chosen_class_weight(pipeline: Pipeline) -> str | None:
    estimator = pipeline.named_steps["model"]
    members = getattr(estimator, "estimators", None) or [("", estimator)]
    weights = {getattr(e, "class_weight", None) for _, e in members}
    return "balanced" if "balanced" in weights else None


def _ensemble(
    verdict: EnsembleVerdict,
    bases: dict[str, Pipeline],
    outcomes: dict[str, SearchOutcome],
    specs: list[AlgorithmSpec],
    problem_type: str,
    features: Any,
    seed: int,
) -> Pipeline:
    """One Aurora pipeline (`preprocess` + `model`) whose model soft-votes the members.

    The members share one preprocessing with standardised numerics: linear models need it
    and trees are invariant to it, so each member sees what it saw in CV. Torch members are
    left out of ensembles (their own scaler and early stopping make the vote costly).
    """
    from dataclasses import replace

    from sklearn.ensemble import VotingClassifier, VotingRegressor

    by_name = {s.name: s for s in specs}
    shared = build_pipeline(
        replace(by_name[verdict.members[0]], scale_numeric=True), problem_type, features, seed
    ).named_steps["preprocess"]
    estimators = [
        (name, configure(bases[name], outcomes[name].params).named_steps["model"])
        for name in verdict.members
    ]
    vote = (
        VotingClassifier(estimators, voting="soft")
        if problem_type == "classification"
        else VotingRegressor(estimators)
    )
    return Pipeline([("preprocess", shared), ("model", vote)])


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
    raw = np.asarray(model.predict_proba(X), dtype=float)
    proba = np.zeros((len(X), len(classes)))
    proba[:, np.searchsorted(classes, model.classes_)] = raw
    # LightGBM / XGBoost return float32 rows that miss 1.0 by rounding: renormalise.
    return proba / proba.sum(axis=1, keepdims=True)


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
