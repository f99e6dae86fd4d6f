"""Cross-validation splits, and the checks that a target can be cross-validated at all.

Every check raises DataError naming the column, what is wrong and what to do, before any
model is fitted: a failure on fold 4 after minutes of training helps nobody.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator, KFold, StratifiedKFold, TimeSeriesSplit

from aurora_pipelines.errors import DataError, SpecError


def check_target(y: pd.Series, *, problem_type: str, cv_folds: int) -> None:
    """Raise DataError if `y` cannot be cross-validated for `problem_type` in `cv_folds`."""
    name = y.name
    if cv_folds < 2:
        raise SpecError(f"cv_folds is {cv_folds}; cross-validation needs at least 2 folds")
    missing = int(y.isna().sum())
    if missing:
        raise DataError(
            f"target '{name}' has {missing} missing value(s) of {len(y)} rows; "
            "drop or label those rows in the feature model before training"
        )
    if len(y) < 2 * cv_folds:
        raise DataError(
            f"only {len(y)} rows for {cv_folds}-fold cross-validation (need at least "
            f"{2 * cv_folds}); add data or lower `training.cv_folds`"
        )
    if problem_type == "regression":
        _check_regression_target(y)
    else:
        _check_classification_target(y, cv_folds)


def _check_regression_target(y: pd.Series) -> None:
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        raise DataError(
            f"target '{y.name}' has dtype {y.dtype}, but regression needs a numeric target; "
            "cast it in the feature model or use problem_type: classification"
        )
    if y.nunique() < 2:
        raise DataError(f"target '{y.name}' is constant ({y.iloc[0]!r}); there is nothing to learn")


def _check_classification_target(y: pd.Series, cv_folds: int) -> None:
    counts = y.value_counts()
    if len(counts) < 2:
        only = counts.index[0] if len(counts) else None
        raise DataError(
            f"target '{y.name}' has a single class ({only!r}) in {len(y)} rows; a classifier "
            "needs at least two — check the source filter or the label definition"
        )
    if pd.api.types.is_float_dtype(y) and not np.all(np.mod(y.to_numpy(), 1) == 0):
        raise DataError(
            f"target '{y.name}' holds continuous values ({len(counts)} distinct); "
            "use problem_type: regression, or bin the target in the feature model"
        )
    rare = counts[counts < cv_folds]
    if len(rare):
        detail = ", ".join(f"{label!r}: {n}" for label, n in rare.items())
        raise DataError(
            f"target '{y.name}' has classes with fewer members than the {cv_folds} folds "
            f"({detail}); add data, merge rare classes or lower `training.cv_folds`"
        )


def cv_splitter(problem_type: str, cv_folds: int, seed: int) -> BaseCrossValidator:
    """Stratified folds for classification (every fold sees every class), plain for regression."""
    if problem_type == "classification":
        return StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed)
    return KFold(n_splits=cv_folds, shuffle=True, random_state=seed)


VALIDATION_SCHEMES = ("kfold", "time")


def check_validation(validation: str, time_column: str | None) -> str:
    """SpecError unless `validation` is known and, for `time`, a time column is named."""
    if validation not in VALIDATION_SCHEMES:
        raise SpecError(
            f"unknown validation scheme '{validation}' (known: auto, "
            f"{', '.join(VALIDATION_SCHEMES)}); fix `training.validation` in the experiment spec"
        )
    if validation == "time" and not time_column:
        raise SpecError(
            "time-based validation needs a time column; set the spec's `time_column` "
            "or use `training.validation: kfold`"
        )
    return validation


def holdout_split(
    y_eval: np.ndarray, *, fraction: float, validation: str, problem_type: str, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of the training part and the final holdout.

    Time-based validation holds out the latest rows (the frame is in time order); otherwise
    the holdout is a seeded random sample, stratified for classification.
    """
    from sklearn.model_selection import train_test_split

    n = len(y_eval)
    positions = np.arange(n)
    if fraction <= 0:
        return positions, positions[:0]
    if not 0 < fraction < 0.5:
        raise SpecError(
            f"holdout_fraction is {fraction}; "
            "use a value in [0, 0.5) in `training.holdout_fraction`"
        )
    size = max(1, int(round(n * fraction)))
    if validation == "time":
        return positions[: n - size], positions[n - size :]
    stratify = y_eval if problem_type == "classification" else None
    train, holdout = train_test_split(
        positions, test_size=size, random_state=seed, shuffle=True, stratify=stratify
    )
    return np.sort(train), np.sort(holdout)


def cv_splits(
    problem_type: str, validation: str, cv_folds: int, seed: int, y_eval: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The CV folds over the training part: time-ordered expanding windows, or k-fold."""
    X = np.zeros((len(y_eval), 1))
    if validation == "time":
        splits = list(TimeSeriesSplit(n_splits=cv_folds).split(X))
        if problem_type == "classification":
            for number, (train, test) in enumerate(splits, start=1):
                for part, rows in (("training", train), ("validation", test)):
                    if len(np.unique(y_eval[rows])) < 2:
                        raise DataError(
                            f"time-based fold {number} has a single class in its {part} window; "
                            "the classes are too rare or too clustered in time for "
                            f"{cv_folds} folds — lower `training.cv_folds` or use "
                            "`training.validation: kfold`"
                        )
        return splits
    return list(cv_splitter(problem_type, cv_folds, seed).split(X, y_eval))
