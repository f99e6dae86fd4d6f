"""The bar train/model must clear: stated by the user, or derived from what the data allows.

A fixed default (0.70 once) means nothing across metrics: 0.70 average precision on a
3%-positive table refuses a model of ROC AUC 0.95, while 0.70 ROC AUC on an easy table passes
a weak one. When neither the spec (`training.metric_min`) nor the questionnaire states a bound,
the bound is the score of a dummy model in the metric actually used (ROC AUC 0.5, average
precision = prevalence, accuracy = majority share, R² 0, RMSE = the target's spread, ...)
improved by a margin: twice the standard error of the chosen model's mean CV score (its fold
spread / sqrt(folds), so a pass is not fold noise), and at least `MIN_LIFT` of the room
between the dummy and a perfect score. The verdict says
which bound applied and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# The margin over the dummy baseline: SPREAD_FACTOR standard errors of the mean CV score
# (about a one-sided 97.5% test that the model beats the dummy), and at least
# MIN_LIFT of the headroom (1 - baseline for scores, the baseline itself for losses).
SPREAD_FACTOR = 2.0
MIN_LIFT = 0.10
# Scores bounded above by 1 (a perfect model); losses are bounded below by 0.
PERFECT = {"roc_auc": 1.0, "average_precision": 1.0, "accuracy": 1.0, "f1": 1.0, "r2": 1.0}

SPEC = "spec"
QUESTIONNAIRE = "questionnaire"
BASELINE = "baseline"


@dataclass(frozen=True)
class MetricBound:
    """The bound on `metric` a score is judged against, where it came from and why."""

    metric: str
    value: float
    greater_is_better: bool
    source: str  # spec | questionnaire | baseline
    reason: str
    baseline: float | None = None
    margin: float | None = None

    def meets(self, score: float) -> bool:
        return score >= self.value if self.greater_is_better else score <= self.value

    @property
    def comparison(self) -> str:
        return "at least" if self.greater_is_better else "at most"

    def as_tags(self) -> dict[str, str]:
        """MLflow version tags: UAT judges the version against the same bound."""
        return {
            "aurora.metric_bound": repr(float(self.value)),
            "aurora.metric_bound_source": self.source,
            "aurora.metric_bound_reason": self.reason[:4000],
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "bound": self.value,
            "direction": "min" if self.greater_is_better else "max",
            "source": self.source,
            "reason": self.reason,
            "baseline": self.baseline,
            "margin": self.margin,
        }


def dummy_baseline(y: np.ndarray | list[Any], metric: str, problem_type: str) -> tuple[float, str]:
    """(score of the best constant model in `metric`, how it is obtained) on targets `y`."""
    values = np.asarray(y)
    if problem_type == "classification":
        try:
            # Sorted like the trainer's classes (numeric labels numerically).
            labels, counts = np.unique(values, return_counts=True)
        except TypeError:
            labels, counts = np.unique(values.astype(str), return_counts=True)
        shares = counts / counts.sum()
        k = len(labels)
        minority = labels[int(np.argmin(shares))]
        if metric == "roc_auc":
            return 0.5, "a constant score ranks no better than chance"
        if metric == "average_precision":
            if k == 2:
                # The positive class is the second in sorted order, as in the trainer.
                return float(shares[1]), f"the prevalence of class {labels[1]}"
            return float(shares.mean()), "the mean class share (macro one-vs-rest)"
        if metric == "accuracy":
            return float(shares.max()), "always predicting the majority class"
        if metric == "f1":
            if k == 2:
                p = float(shares[1])
                return 2 * p / (1 + p), f"always predicting class {labels[1]}"
            # Predicting one class: macro F1 of the best single class.
            best = max(2 * s / (1 + s) for s in shares) / k
            return float(best), "always predicting one class (macro F1)"
        if metric == "log_loss":
            entropy = float(-(shares * np.log(np.clip(shares, 1e-15, 1))).sum())
            return entropy, f"predicting the class shares (minority {minority})"
        raise ValueError(f"no dummy baseline for classification metric {metric!r}")
    target = values.astype(float)
    if metric == "rmse":
        return float(np.std(target)), "always predicting the mean"
    if metric == "mae":
        return float(np.mean(np.abs(target - np.median(target)))), "always predicting the median"
    if metric == "r2":
        return 0.0, "always predicting the mean"
    raise ValueError(f"no dummy baseline for regression metric {metric!r}")


def stated_bound(
    metric: str,
    value: float,
    greater_is_better: bool,
    *,
    from_questionnaire: bool,
    metric_pinned: bool,
) -> MetricBound:
    """The bound the user wrote (spec or questionnaire)."""
    if from_questionnaire:
        reason = f"the questionnaire's success threshold: {metric} {value}"
        return MetricBound(metric, float(value), greater_is_better, QUESTIONNAIRE, reason)
    reason = f"training.metric_min {value} from the spec"
    if not metric_pinned:
        reason += (
            f", applied to the recommended metric {metric}; pin training.primary_metric to "
            "say which metric the bound is for"
        )
    return MetricBound(metric, float(value), greater_is_better, SPEC, reason)


def derived_bound(
    metric: str,
    greater_is_better: bool,
    y: np.ndarray | list[Any],
    problem_type: str,
    fold_scores: list[float] | None,
) -> MetricBound:
    """Beat the dummy baseline by the larger of SPREAD_FACTOR standard errors of the chosen
    model's mean CV score and MIN_LIFT of the headroom (no spread on a single holdout)."""
    baseline, how = dummy_baseline(y, metric, problem_type)
    # A loss of 0 is perfect: its headroom is the baseline itself.
    headroom = PERFECT.get(metric, 1.0) - baseline if greater_is_better else baseline
    lift = MIN_LIFT * max(headroom, 0.0)
    spread = None
    if fold_scores and len(fold_scores) > 1:
        spread = float(np.std(fold_scores, ddof=1) / np.sqrt(len(fold_scores)))
    margin = lift if spread is None else max(lift, SPREAD_FACTOR * spread)
    value = baseline + margin if greater_is_better else baseline - margin
    if spread is None:
        why_margin = f"{MIN_LIFT:.0%} of the headroom ({lift:.4f}; no CV spread on a holdout)"
    elif margin == lift:
        why_margin = (
            f"{MIN_LIFT:.0%} of the headroom ({lift:.4f}), larger than "
            f"{SPREAD_FACTOR:g} x the standard error {spread:.4f} of the mean CV score"
        )
    else:
        why_margin = (
            f"{SPREAD_FACTOR:g} x the standard error {spread:.4f} of the chosen model's "
            f"mean CV score over {len(fold_scores or [])} folds"
        )
    reason = (
        f"default bound (training.metric_min unset): the dummy baseline {metric} "
        f"{baseline:.4f} ({how}) {'+' if greater_is_better else '-'} a margin of "
        f"{margin:.4f}: {why_margin}; set training.metric_min for a bar of your own"
    )
    return MetricBound(
        metric, round(value, 6), greater_is_better, BASELINE, reason, baseline, margin
    )


def resolve_bound(
    spec: Any,
    metric: str,
    greater_is_better: bool,
    y: np.ndarray | list[Any],
    fold_scores: list[float] | None,
    *,
    metric_pinned: bool,
) -> MetricBound:
    """The bound for `spec` (an ExperimentSpec) on the metric the plan trained on."""
    training = spec.training
    answers = getattr(spec, "questionnaire", None)
    if training.metric_min is not None:
        from_questionnaire = bool(
            answers is not None
            and answers.success_threshold is not None
            and answers.success_metric == metric
            and float(answers.success_threshold) == float(training.metric_min)
        )
        return stated_bound(
            metric,
            training.metric_min,
            greater_is_better,
            from_questionnaire=from_questionnaire,
            metric_pinned=metric_pinned,
        )
    return derived_bound(metric, greater_is_better, y, problem_type_of(spec), fold_scores)


def problem_type_of(spec: Any) -> str:
    kind = spec.problem_type
    return getattr(kind, "value", kind)
