"""The characteristics of a training table that decide which algorithms suit it.

Measured on a seeded sample of at most `SAMPLE_ROWS` rows (the total row count comes from
the caller, e.g. the Delta log), so it stays cheap on any table size.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from aurora_pipelines.training.algorithms import (
    MAX_CATEGORIES,
    build_pipeline,
    get_algorithm,
    select_feature_columns,
)

SAMPLE_ROWS = 20_000
BASELINE_ROWS = 5_000


@dataclass
class Baseline:
    """A quick linear model's CV score on a sample: how far a simple model gets."""

    algorithm: str
    metric: str
    score: float
    rows: int


@dataclass
class DataCharacteristics:
    rows: int
    sampled_rows: int
    features: int
    numeric_features: int
    categorical_features: int
    target: str
    problem_type: str
    target_kind: str  # binary, multiclass, continuous
    classes: dict[str, int] = field(default_factory=dict)  # label -> count in the sample
    minority_share: float | None = None
    imbalance_ratio: float | None = None  # majority / minority count
    target_skew: float | None = None
    missing_cell_share: float = 0.0
    columns_with_missing: dict[str, float] = field(default_factory=dict)
    high_cardinality: dict[str, int] = field(default_factory=dict)  # column -> distinct values
    memory_bytes: int = 0  # estimated pandas memory of the whole table
    time_column: str | None = None
    baseline: Baseline | None = None

    @property
    def memory_gib(self) -> float:
        return self.memory_bytes / 2**30

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def measure(
    df: pd.DataFrame,
    *,
    target: str,
    problem_type: str,
    id_column: str | None = None,
    time_column: str | None = None,
    total_rows: int | None = None,
    seed: int = 42,
) -> DataCharacteristics:
    """Characteristics of `df` (a sample of a table of `total_rows` rows, or all of it)."""
    rows = int(total_rows if total_rows is not None else len(df))
    if len(df) > SAMPLE_ROWS:
        df = df.sample(n=SAMPLE_ROWS, random_state=seed)
    columns = select_feature_columns(df, target=target, exclude=[id_column, time_column])
    X = df[columns.all]
    y = df[target]
    per_row = df.memory_usage(deep=True, index=False).sum() / max(len(df), 1)
    missing = X.isna().mean()
    chars = DataCharacteristics(
        rows=rows,
        sampled_rows=len(df),
        features=len(columns.all),
        numeric_features=len(columns.numeric),
        categorical_features=len(columns.categorical),
        target=target,
        problem_type=problem_type,
        target_kind="continuous",
        missing_cell_share=float(X.isna().to_numpy().mean()) if len(X.columns) else 0.0,
        columns_with_missing={
            str(c): round(float(v), 4)
            for c, v in missing.sort_values(ascending=False).items()
            if v > 0
        },
        high_cardinality={
            str(c): int(X[c].nunique())
            for c in columns.categorical
            if X[c].nunique() > MAX_CATEGORIES
        },
        memory_bytes=int(per_row * rows),
        time_column=time_column,
    )
    labelled = y.dropna()
    if problem_type == "classification":
        counts = labelled.value_counts()
        chars.classes = {str(k): int(v) for k, v in counts.items()}
        chars.target_kind = "binary" if len(counts) == 2 else "multiclass"
        if len(counts) >= 2:
            chars.minority_share = round(float(counts.min() / counts.sum()), 4)
            chars.imbalance_ratio = round(float(counts.max() / counts.min()), 2)
    elif pd.api.types.is_numeric_dtype(labelled) and len(labelled) > 2:
        chars.target_skew = round(float(labelled.astype(float).skew()), 3)
    chars.baseline = linear_baseline(df, X, y, columns, problem_type, seed)
    return chars


def linear_baseline(
    df: pd.DataFrame,
    X: pd.DataFrame,
    y: pd.Series,
    columns: Any,
    problem_type: str,
    seed: int,
) -> Baseline | None:
    """3-fold CV of the linear model on at most BASELINE_ROWS rows; None if it cannot run."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

    keep = y.notna()
    X, y = X[keep], y[keep]
    if len(X) > BASELINE_ROWS:
        X = X.sample(n=BASELINE_ROWS, random_state=seed)
        y = y.loc[X.index]
    if not len(X.columns) or len(X) < 30:
        return None
    if problem_type == "classification":
        counts = y.value_counts()
        if len(counts) < 2 or counts.min() < 3:
            return None
        algorithm, metric = "logistic_regression", "roc_auc" if len(counts) == 2 else "roc_auc_ovr"
        folds: Any = StratifiedKFold(3, shuffle=True, random_state=seed)
    else:
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            return None
        algorithm, metric = "ridge", "r2"
        folds = KFold(3, shuffle=True, random_state=seed)
    pipeline = build_pipeline(get_algorithm(algorithm, problem_type), problem_type, columns, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on a quick look
        scores = cross_val_score(pipeline, X, y, cv=folds, scoring=metric, error_score=np.nan)
    if np.isnan(scores).all():
        return None
    return Baseline(
        algorithm=algorithm,
        metric=metric.replace("_ovr", ""),
        score=round(float(np.nanmean(scores)), 4),
        rows=len(X),
    )
