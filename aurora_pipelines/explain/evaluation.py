"""Holdout evaluation for the model card: metrics with bootstrap confidence intervals, and
metrics by slice of a declared sensitive attribute with a disparity ratio.

The registered model was refit on every row, so it has no unseen rows left; the card refits a
clone of the same pipeline (same algorithm, parameters and seed) on 75% of a sample and scores
the other 25%. The intervals are percentile bootstrap intervals over that holdout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from aurora_pipelines.errors import DataError
from aurora_pipelines.explain.shap_values import aurora_pipeline
from aurora_pipelines.training.trainer import get_metric, metrics_for

MIN_SLICE_ROWS = 30
MAX_SLICES = 20


@dataclass(frozen=True)
class MetricInterval:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Evaluation:
    holdout_rows: int
    train_rows: int
    bootstrap: int
    confidence: float
    metrics: dict[str, MetricInterval]
    sensitive_attribute: str | None = None
    # value, rows, share, <primary metric>, mean_score | selection_rate | mean_prediction
    slices: pd.DataFrame | None = None
    disparity_ratio: float | None = None  # min/max of that last column across slices
    metric_ratio: float | None = None  # min/max primary metric across slices
    notes: list[str] = field(default_factory=list)


def _score(problem_type: str, metric: Any, y: np.ndarray, out: np.ndarray, k: int) -> float:
    try:
        if problem_type == "classification":
            return float(metric.score(y, out, k))
        return float(metric.score(y, out))
    except ValueError:  # e.g. a resample or slice holding one class only
        return float("nan")


def evaluate_holdout(
    model: Any,
    frame: pd.DataFrame,
    *,
    target: str,
    problem_type: str,
    primary_metric: str,
    sensitive_attribute: str | None = None,
    seed: int = 42,
    max_rows: int = 10_000,
    bootstrap: int = 200,
    confidence: float = 0.95,
) -> Evaluation:
    """Refit a clone of `model` on 75% of (a sample of) `frame`, score the rest with CIs."""
    import sklearn
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    features = [str(c) for c in aurora_pipeline(model).named_steps["preprocess"].feature_names_in_]
    missing = [c for c in [*features, target] if c not in frame.columns]
    if missing:
        raise DataError(
            f"the evaluation frame lacks column(s) {', '.join(missing)}; pass the feature table "
            "the model was trained on"
        )
    data = frame.sample(n=min(max_rows, len(frame)), random_state=seed).reset_index(drop=True)
    y_all = data[target].to_numpy()
    classification = problem_type == "classification"
    stratify = y_all if classification else None
    train, test = train_test_split(data, test_size=0.25, random_state=seed, stratify=stratify)
    fitted = clone(model).fit(train[features], train[target])
    metrics = metrics_for(problem_type)
    classes = np.unique(y_all) if classification else None
    if classification:
        y = np.searchsorted(classes, test[target].to_numpy())
        raw = fitted.predict_proba(test[features])
        out = np.zeros((len(test), len(classes)))
        out[:, np.searchsorted(classes, fitted.classes_)] = raw
        k = len(classes)
    else:
        y = test[target].to_numpy(dtype=float)
        out = np.asarray(fitted.predict(test[features]), dtype=float)
        k = 0

    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(test), size=(bootstrap, len(test)))
    alpha = (1 - confidence) / 2
    intervals: dict[str, MetricInterval] = {}
    for name, metric in metrics.items():
        point = _score(problem_type, metric, y, out, k)
        # The inputs were validated once above; per-resample validation dominates otherwise.
        with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
            samples = np.array([_score(problem_type, metric, y[i], out[i], k) for i in draws])
        samples = samples[~np.isnan(samples)]
        low, high = (
            (float(np.quantile(samples, alpha)), float(np.quantile(samples, 1 - alpha)))
            if len(samples)
            else (float("nan"), float("nan"))
        )
        intervals[name] = MetricInterval(point, low, high)

    evaluation = Evaluation(
        holdout_rows=len(test),
        train_rows=len(train),
        bootstrap=bootstrap,
        confidence=confidence,
        metrics=intervals,
        sensitive_attribute=sensitive_attribute,
    )
    if not sensitive_attribute:
        return evaluation
    if sensitive_attribute not in test.columns:
        return Evaluation(
            **{
                **evaluation.__dict__,
                "notes": [
                    f"sensitive attribute '{sensitive_attribute}' is not a column of the feature "
                    "table, so no slice metrics; keep it in the feature model (it need not be a "
                    "model input) to get them"
                ],
            }
        )
    return _slices(evaluation, test, sensitive_attribute, y, out, k, problem_type, primary_metric)


def _slices(
    evaluation: Evaluation,
    test: pd.DataFrame,
    attribute: str,
    y: np.ndarray,
    out: np.ndarray,
    k: int,
    problem_type: str,
    primary_metric: str,
) -> Evaluation:
    metric = get_metric(primary_metric, problem_type)
    values = test[attribute].astype(object).where(test[attribute].notna(), "<missing>")
    values = values.astype(str).to_numpy()
    counts = pd.Series(values).value_counts()
    if problem_type == "classification" and k == 2:
        # Mean predicted probability of the positive class: unlike a 0.5-threshold selection
        # rate, it does not collapse to ~0 everywhere when positives are rare.
        selected = out[:, 1]
        rate_name = "mean_score"
    elif problem_type == "classification":
        predicted = np.argmax(out, axis=1)
        selected = (predicted == int(np.bincount(predicted).argmax())).astype(float)
        rate_name = "selection_rate"
    else:
        selected = out
        rate_name = "mean_prediction"
    rows = []
    notes = list(evaluation.notes)
    for value, n in counts.head(MAX_SLICES).items():
        if n < MIN_SLICE_ROWS:
            notes.append(
                f"slice {attribute}={value} has {n} holdout rows (<{MIN_SLICE_ROWS}); left out"
            )
            continue
        mask = values == value
        rows.append(
            {
                "value": value,
                "rows": int(n),
                "share": round(float(n) / len(values), 4),
                primary_metric: _score(problem_type, metric, y[mask], out[mask], k),
                rate_name: float(selected[mask].mean()),
            }
        )
    table = pd.DataFrame(rows)
    disparity = metric_ratio = None
    if len(table) >= 2:
        rates = table[rate_name].abs()
        disparity = float(rates.min() / rates.max()) if rates.max() > 0 else None
        scores = table[primary_metric].dropna().abs()
        metric_ratio = float(scores.min() / scores.max()) if len(scores) and scores.max() else None
    return Evaluation(
        **{
            **evaluation.__dict__,
            "slices": table,
            "disparity_ratio": disparity,
            "metric_ratio": metric_ratio,
            "notes": notes,
        }
    )
