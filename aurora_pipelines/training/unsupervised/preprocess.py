"""Input columns and preprocessing of the unsupervised tasks: the supervised pipelines' own
preprocessing (median/mode imputation, bounded one-hot), with numeric columns scaled, since
distances and variances must not depend on a column's units."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aurora_pipelines.errors import DataError
from aurora_pipelines.training.algorithms import (
    MAX_CATEGORIES,
    AlgorithmSpec,
    FeatureColumns,
    build_pipeline,
    select_feature_columns,
)

# A text column whose distinct values exceed this share of rows (and MAX_CATEGORIES) is an
# identifier or free text: one-hot would make it a column per row, so it is refused.
ID_LIKE_SHARE = 0.5

_SCALED = AlgorithmSpec(
    name="unsupervised_preprocess",
    estimators={"regression": lambda seed: "passthrough"},
    scale_numeric=True,
)


@dataclass(frozen=True)
class Inputs:
    features: FeatureColumns
    X: pd.DataFrame


def select_inputs(df: pd.DataFrame, *, exclude: list[str | None], experiment: str = "") -> Inputs:
    """The feature columns (not the id, time or label column, no dates); DataError when none
    remain or a text column is identifier-like."""
    features = select_feature_columns(df, target="", exclude=exclude)
    if not features.all:
        raise DataError(
            f"experiment '{experiment}': no usable feature columns besides the id, time and "
            "label columns; add numeric or categorical features in the feature model"
        )
    rows = max(len(df), 1)
    for column in features.categorical:
        distinct = int(df[column].nunique(dropna=True))
        if distinct > MAX_CATEGORIES and distinct > ID_LIKE_SHARE * rows:
            raise DataError(
                f"experiment '{experiment}': column '{column}' has {distinct:,} distinct values "
                f"in {rows:,} rows ({distinct / rows:.0%}): an identifier or free text, not a "
                "category. Aurora does not one-hot it; set it as `id_column`, drop it in the "
                "feature model, or derive a low-cardinality feature from it"
            )
    return Inputs(features=features, X=df[features.all])


def build_preprocess(features: FeatureColumns, seed: int) -> Any:
    """The supervised pipelines' ColumnTransformer, numeric columns scaled (unfitted)."""
    return build_pipeline(_SCALED, "regression", features, seed).steps[0][1]


def seeded_positions(rows: int, limit: int, seed: int) -> np.ndarray:
    """Sorted positions of a seeded sample of at most `limit` of `rows` rows."""
    if rows <= limit:
        return np.arange(rows)
    return np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))
