"""The algorithms Aurora can train, and the sklearn Pipeline each one is wrapped in.

The registry is keyed by algorithm name; one name may serve several problem types
(`hist_gradient_boosting` is both a classifier and a regressor). Torch and Spark MLlib
estimators register here later through `register_algorithm`, so callers never branch on
the library.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from aurora_pipelines.errors import SpecError

PROBLEM_TYPES = ("classification", "regression")

# One-hot width is bounded so a high-cardinality text column cannot explode memory;
# rarer categories share one "infrequent" column.
MAX_CATEGORIES = 50

EstimatorFactory = Callable[[int], Any]  # seed -> unfitted estimator


@dataclass(frozen=True)
class AlgorithmSpec:
    """One trainable algorithm: an estimator factory per problem type it supports."""

    name: str
    estimators: dict[str, EstimatorFactory]
    library: str = "sklearn"
    # Linear models need standardised inputs; trees do not care and train faster without.
    scale_numeric: bool = False
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    # Hyperparameter search space of the estimator: name -> {type: float|int|categorical,
    # low/high/log or choices, default}. `default` is the factory's value, tried first.
    search_space: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def family(self) -> str:
        """The library family that trains it: sklearn, torch, lightgbm, xgboost or spark."""
        return self.library

    def supports(self, problem_type: str) -> bool:
        return problem_type in self.estimators

    def estimator(self, problem_type: str, seed: int) -> Any:
        return self.estimators[problem_type](seed)


ALGORITHMS: dict[str, AlgorithmSpec] = {}


def register_algorithm(spec: AlgorithmSpec) -> AlgorithmSpec:
    """Add (or replace) an algorithm in the registry; returns it for chaining."""
    ALGORITHMS[spec.name] = spec
    return spec


def known_algorithms(problem_type: str) -> list[str]:
    """Names of the algorithms that can train `problem_type`, sorted."""
    return sorted(name for name, spec in ALGORITHMS.items() if spec.supports(problem_type))


def check_problem_type(problem_type: str) -> str:
    if problem_type not in PROBLEM_TYPES:
        raise SpecError(
            f"problem type '{problem_type}' is not supported (known: {', '.join(PROBLEM_TYPES)}); "
            "fix the spec's `problem_type`"
        )
    return problem_type


def get_algorithm(name: str, problem_type: str) -> AlgorithmSpec:
    """The registered algorithm `name` for `problem_type`; SpecError lists the valid names."""
    check_problem_type(problem_type)
    spec = ALGORITHMS.get(name)
    if spec is None or not spec.supports(problem_type):
        known = ", ".join(known_algorithms(problem_type))
        raise SpecError(
            f"unknown {problem_type} algorithm '{name}' (known: {known}); "
            "fix `training.algorithms` in the experiment spec"
        )
    return spec


register_algorithm(
    AlgorithmSpec(
        name="logistic_regression",
        estimators={"classification": lambda seed: LogisticRegression(max_iter=2000)},
        scale_numeric=True,
        description="L2-regularised logistic regression: a calibrated, explainable baseline.",
        tags=("linear", "interpretable"),
        search_space={
            "C": {"type": "float", "low": 1e-3, "high": 100.0, "log": True, "default": 1.0}
        },
    )
)
register_algorithm(
    AlgorithmSpec(
        name="linear_regression",
        estimators={"regression": lambda seed: LinearRegression()},
        scale_numeric=True,
        description="Ordinary least squares: the explainable regression baseline.",
        tags=("linear", "interpretable"),
    )
)
register_algorithm(
    AlgorithmSpec(
        name="ridge",
        estimators={"regression": lambda seed: Ridge(alpha=1.0)},
        scale_numeric=True,
        description="L2-regularised linear regression: stable with correlated features.",
        tags=("linear", "interpretable"),
        search_space={
            "alpha": {"type": "float", "low": 1e-3, "high": 1000.0, "log": True, "default": 1.0}
        },
    )
)
register_algorithm(
    AlgorithmSpec(
        name="hist_gradient_boosting",
        estimators={
            "classification": lambda seed: HistGradientBoostingClassifier(random_state=seed),
            "regression": lambda seed: HistGradientBoostingRegressor(random_state=seed),
        },
        description="Histogram gradient-boosted trees: strong on tabular data, handles NaN.",
        tags=("trees", "boosting"),
        search_space={
            "learning_rate": {
                "type": "float",
                "low": 0.02,
                "high": 0.3,
                "log": True,
                "default": 0.1,
            },
            "max_leaf_nodes": {"type": "int", "low": 8, "high": 128, "log": True, "default": 31},
            "min_samples_leaf": {"type": "int", "low": 5, "high": 200, "log": True, "default": 20},
            "l2_regularization": {"type": "float", "low": 0.0, "high": 1.0, "default": 0.0},
            "max_features": {"type": "float", "low": 0.5, "high": 1.0, "default": 1.0},
        },
    )
)
register_algorithm(
    AlgorithmSpec(
        name="random_forest",
        # n_jobs=1: the machines are shared and a forest per fold would oversubscribe them.
        estimators={
            "classification": lambda seed: RandomForestClassifier(
                n_estimators=150, min_samples_leaf=3, random_state=seed, n_jobs=1
            ),
            "regression": lambda seed: RandomForestRegressor(
                n_estimators=150, min_samples_leaf=3, random_state=seed, n_jobs=1
            ),
        },
        description="Random forest: robust bagged trees with little tuning.",
        tags=("trees", "bagging"),
        search_space={
            "min_samples_leaf": {"type": "int", "low": 1, "high": 20, "log": True, "default": 3},
            "max_features": {
                "type": "categorical",
                "choices": ["sqrt", 0.5, 1.0],
                "default": "sqrt",
            },
        },
    )
)


class MissingAsNaN(TransformerMixin, BaseEstimator):
    """Make None / pd.NA in categorical columns NaN, so SimpleImputer sees every missing value.

    pandas object columns hold missing strings as None, which SimpleImputer does not treat
    as missing; without this step None would become a category of its own at training time
    and NaN an unseen one at serving time.
    """

    def fit(self, X: Any, y: Any = None) -> MissingAsNaN:
        frame = pd.DataFrame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        return self

    def transform(self, X: Any) -> pd.DataFrame:
        frame = pd.DataFrame(X).astype(object)
        return frame.where(frame.notna(), np.nan)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        if input_features is not None:
            return np.asarray(input_features, dtype=object)
        return self.feature_names_in_


@dataclass(frozen=True)
class FeatureColumns:
    """The input columns a model takes, split by how they are preprocessed."""

    numeric: list[str]
    categorical: list[str]

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def is_date_like(series: pd.Series) -> bool:
    """True for datetime dtypes and for object columns holding date/datetime values."""
    if pd.api.types.is_datetime64_any_dtype(series) or isinstance(series.dtype, pd.PeriodDtype):
        return True
    if series.dtype == object:
        sample = series.dropna().head(20)
        return len(sample) > 0 and all(isinstance(v, dt.date) for v in sample)
    return False


def select_feature_columns(
    df: pd.DataFrame, *, target: str, exclude: Sequence[str | None] = ()
) -> FeatureColumns:
    """Split the frame's columns into numeric and categorical features.

    Excluded: the target, the columns named in `exclude` (id, time) and any date-like
    column — dates as raw features leak time and do not generalise to new periods.
    """
    skip = {target, *(c for c in exclude if c)}
    numeric: list[str] = []
    categorical: list[str] = []
    for column in df.columns:
        series = df[column]
        if column in skip or is_date_like(series):
            continue
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            categorical.append(column)
        else:
            numeric.append(column)
    return FeatureColumns(numeric=numeric, categorical=categorical)


def build_pipeline(
    spec: AlgorithmSpec, problem_type: str, features: FeatureColumns, seed: int
) -> Pipeline:
    """Preprocessing + estimator in one Pipeline, so CV folds fit the imputers on train only."""
    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if spec.scale_numeric:
        numeric_steps.append(("scale", StandardScaler()))
    categorical_steps = [
        ("missing", MissingAsNaN()),
        ("impute", SimpleImputer(strategy="most_frequent")),
        (
            "onehot",
            OneHotEncoder(
                handle_unknown="ignore", sparse_output=False, max_categories=MAX_CATEGORIES
            ),
        ),
    ]
    transformers = []
    if features.numeric:
        transformers.append(("numeric", Pipeline(numeric_steps), features.numeric))
    if features.categorical:
        transformers.append(("categorical", Pipeline(categorical_steps), features.categorical))
    preprocess = ColumnTransformer(transformers, remainder="drop")
    return Pipeline([("preprocess", preprocess), ("model", spec.estimator(problem_type, seed))])


def _register_torch() -> None:
    # The module imports torch only inside `fit`, so registering it costs nothing at import.
    from aurora_pipelines.training.torch_mlp import (
        SEARCH_SPACE,
        TorchMLPClassifier,
        TorchMLPRegressor,
    )

    register_algorithm(
        AlgorithmSpec(
            name="torch_mlp",
            estimators={
                "classification": lambda seed: TorchMLPClassifier(random_state=seed),
                "regression": lambda seed: TorchMLPRegressor(random_state=seed),
            },
            library="torch",
            scale_numeric=True,
            description="Tabular MLP (torch, CPU) with early stopping: learns smooth "
            "interactions when rows are plentiful.",
            tags=("neural",),
            search_space=SEARCH_SPACE,
        )
    )


_register_torch()

# The Spark MLlib family registers itself (its factories import pyspark only when called),
# and so do LightGBM and XGBoost (their libraries are imported by the factories).
from aurora_pipelines.training import boosting, spark_ml  # noqa: E402, F401
