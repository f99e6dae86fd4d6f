"""LightGBM and XGBoost as first-class Aurora algorithms (CPU builds, one thread each).

Both register in the same algorithm registry as the scikit-learn estimators, with search
spaces whose `default` is the library's own default, so Optuna's trial 0 is the untuned
model and the leaderboard's *base* row is what a user gets from the library as shipped.
The libraries are imported only when a factory is called: loading the code location does
not import them.

Storage: both models go through skops, like every Aurora model. skops rebuilds a booster
from its own model text (LightGBM) or raw UBJSON bytes (XGBoost), never via pickle; the
exact types it must trust are listed in `TRUSTED_BOOSTING_TYPES` (registry/mlflow_registry.py).
"""

from __future__ import annotations

from typing import Any

from aurora_pipelines.training.algorithms import AlgorithmSpec, register_algorithm

# The classes skops has to construct to load these models, by exact name (no prefixes:
# only the estimator and booster classes of the two libraries, nothing else they ship).
TRUSTED_BOOSTING_TYPES = frozenset(
    {
        "collections.OrderedDict",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBRegressor",
    }
)
# pip requirement of each library, for the MLflow model's requirements.
REQUIREMENTS = {"lightgbm": "lightgbm", "xgboost": "xgboost-cpu"}


def _lgbm(kind: str) -> Any:
    def factory(seed: int) -> Any:
        import lightgbm

        cls = lightgbm.LGBMClassifier if kind == "classification" else lightgbm.LGBMRegressor
        # n_jobs=1: the machines are shared (as for random_forest); verbose=-1: no log spam.
        return cls(random_state=seed, n_jobs=1, verbose=-1)

    return factory


def _xgb(kind: str) -> Any:
    def factory(seed: int) -> Any:
        if kind == "classification":
            from aurora_pipelines.training.xgboost_labels import LabelledXGBClassifier

            return LabelledXGBClassifier(random_state=seed, n_jobs=1, tree_method="hist")
        from xgboost import XGBRegressor

        return XGBRegressor(random_state=seed, n_jobs=1, tree_method="hist")

    return factory


register_algorithm(
    AlgorithmSpec(
        name="lightgbm",
        estimators={"classification": _lgbm("classification"), "regression": _lgbm("regression")},
        library="lightgbm",
        description="LightGBM: leaf-wise gradient-boosted trees, fast on wide and large tables.",
        tags=("trees", "boosting"),
        search_space={
            "n_estimators": {"type": "int", "low": 50, "high": 1000, "log": True, "default": 100},
            "learning_rate": {
                "type": "float",
                "low": 0.01,
                "high": 0.3,
                "log": True,
                "default": 0.1,
            },
            "num_leaves": {"type": "int", "low": 4, "high": 128, "log": True, "default": 31},
            "min_child_samples": {
                "type": "int",
                "low": 5,
                "high": 200,
                "log": True,
                "default": 20,
            },
            "colsample_bytree": {"type": "float", "low": 0.4, "high": 1.0, "default": 1.0},
            "reg_lambda": {"type": "float", "low": 0.0, "high": 10.0, "default": 0.0},
        },
    )
)
register_algorithm(
    AlgorithmSpec(
        name="xgboost",
        estimators={"classification": _xgb("classification"), "regression": _xgb("regression")},
        library="xgboost",
        description="XGBoost: depth-wise gradient-boosted trees with strong regularisation.",
        tags=("trees", "boosting"),
        search_space={
            "n_estimators": {"type": "int", "low": 50, "high": 1000, "log": True, "default": 100},
            "learning_rate": {
                "type": "float",
                "low": 0.01,
                "high": 0.3,
                "log": True,
                "default": 0.3,
            },
            "max_depth": {"type": "int", "low": 2, "high": 10, "default": 6},
            "min_child_weight": {
                "type": "float",
                "low": 0.5,
                "high": 50.0,
                "log": True,
                "default": 1.0,
            },
            "subsample": {"type": "float", "low": 0.5, "high": 1.0, "default": 1.0},
            "colsample_bytree": {"type": "float", "low": 0.4, "high": 1.0, "default": 1.0},
            "reg_lambda": {"type": "float", "low": 0.1, "high": 20.0, "log": True, "default": 1.0},
        },
    )
)
