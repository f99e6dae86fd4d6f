"""Classification extras: whether to calibrate probabilities, and the decision threshold.

Both decisions are made on the chosen configuration's out-of-fold (OOF) probabilities,
never on the final holdout, so the holdout metrics stay an honest estimate.

- Calibration `auto`: Platt scaling is cross-fitted on the OOF probabilities (fit on one
  half, scored on the other, and back); when it lowers the log loss by at least 1%, the
  final model is wrapped in `CalibratedClassifierCV(method="sigmoid")`.
- Threshold: the probability cut-off that maximises the primary metric when it depends
  on a cut-off (f1, accuracy), else F1 — searched over the OOF quantiles; ties go to the
  value closest to 0.5. A spec can pin it instead. Batch scoring reads it from the
  registered model version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score
from sklearn.model_selection import StratifiedKFold, TimeSeriesSplit

CALIBRATION_METHODS = ("auto", "none", "sigmoid", "isotonic")
THRESHOLD_METRICS = {"f1": f1_score, "accuracy": accuracy_score}
MIN_LOG_LOSS_GAIN = 0.01  # relative; below it calibration is not worth the extra model


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p)).reshape(-1, 1)


def _calibrator(method: str, p: np.ndarray, y: np.ndarray) -> Any:
    if method == "isotonic":
        return IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(p, y)
    return LogisticRegression(C=1e6).fit(_logit(p), y)


def _apply(calibrator: Any, p: np.ndarray) -> np.ndarray:
    if isinstance(calibrator, IsotonicRegression):
        return np.clip(calibrator.predict(p), 1e-6, 1 - 1e-6)
    return calibrator.predict_proba(_logit(p))[:, 1]


def decide_calibration(
    calibration: str, oof: np.ndarray, y: np.ndarray, classes: np.ndarray | None, seed: int
) -> str:
    """The calibration method to apply: `none`, `sigmoid` or `isotonic`."""
    if classes is None or calibration == "none":
        return "none"
    if calibration != "auto":
        return calibration
    if len(classes) != 2:
        return "none"
    available = ~np.isnan(oof).any(axis=1)
    p, target = oof[available, 1], y[available]
    if len(target) < 100 or len(np.unique(target)) < 2:
        return "none"
    order = np.random.default_rng(seed).permutation(len(target))
    halves = np.array_split(order, 2)
    calibrated = np.empty_like(p)
    for fit_part, score_part in ((halves[0], halves[1]), (halves[1], halves[0])):
        if len(np.unique(target[fit_part])) < 2:
            return "none"
        model = _calibrator("sigmoid", p[fit_part], target[fit_part])
        calibrated[score_part] = _apply(model, p[score_part])
    raw_loss = log_loss(target, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])
    new_loss = log_loss(target, calibrated, labels=[0, 1])
    return "sigmoid" if new_loss < raw_loss * (1 - MIN_LOG_LOSS_GAIN) else "none"


def calibration_splitter(validation: str, seed: int) -> Any:
    """Folds CalibratedClassifierCV fits its calibrators on (time order kept for time data)."""
    if validation == "time":
        return TimeSeriesSplit(n_splits=3)
    return StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)


def calibrated_oof(oof: np.ndarray, y: np.ndarray, method: str) -> np.ndarray:
    """Positive-class OOF probabilities, mapped through `method` fitted on them."""
    positive = oof[:, 1].copy()
    if method == "none":
        return positive
    available = ~np.isnan(positive)
    model = _calibrator(method, positive[available], y[available])
    positive[available] = _apply(model, positive[available])
    return positive


def select_threshold(y: np.ndarray, positive: np.ndarray, primary: str) -> tuple[float, str]:
    """(threshold, metric it maximises) for binary scores; NaN scores are ignored."""
    name = primary if primary in THRESHOLD_METRICS else "f1"
    score = THRESHOLD_METRICS[name]
    available = ~np.isnan(positive)
    y, positive = y[available], positive[available]
    candidates = np.unique(
        np.round(np.append(np.quantile(positive, np.linspace(0.01, 0.99, 99)), 0.5), 6)
    )
    best, best_value = 0.5, -np.inf
    for threshold in candidates:
        predicted = (positive >= threshold).astype(int)
        if name == "f1":
            value = float(score(y, predicted, zero_division=0))
        else:
            value = float(score(y, predicted))
        closer = abs(threshold - 0.5) < abs(best - 0.5)
        if value > best_value + 1e-12 or (abs(value - best_value) <= 1e-12 and closer):
            best, best_value = float(threshold), value
    return best, name


def threshold_metrics(y: np.ndarray, positive: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 of the positive class at `threshold`."""
    predicted = (positive >= threshold).astype(int)
    return {
        "precision_at_threshold": float(precision_score(y, predicted, zero_division=0)),
        "recall_at_threshold": float(recall_score(y, predicted, zero_division=0)),
        "f1_at_threshold": float(f1_score(y, predicted, zero_division=0)),
    }
