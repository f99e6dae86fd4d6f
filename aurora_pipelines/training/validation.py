"""Cross-validation splits, and the checks that a target can be cross-validated at all.

Every check raises DataError naming the column, what is wrong and what to do, before any
model is fitted: a failure on fold 4 after minutes of training helps nobody.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator, KFold, StratifiedKFold

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
