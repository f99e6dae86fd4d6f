"""The benchmarks' model: logistic regression on the credit sample, trained and registered.

The serving and batch-scoring benchmarks measure scoring, not training; they register the
same kind of model so their figures compare. Imported on use (mlflow, sklearn are slow).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from aurora_pipelines.registry.mlflow_registry import RegisteredModel
    from aurora_pipelines.training.trainer import TrainingResult


def register_credit_model(
    data: pd.DataFrame,
    *,
    tracking_uri: str,
    artifact_root: Path,
    name: str,
    cv_folds: int,
    seed: int,
    feature_table_version: int,
    tags: dict[str, str],
    **register_kwargs: Any,
) -> tuple[TrainingResult, RegisteredModel]:
    """Train logistic regression (roc_auc, `cv_folds` folds, `seed`) on credit-sample `data`
    and register it as `name`; `register_kwargs` go to `log_and_register` as they are."""
    from aurora_pipelines.registry.mlflow_registry import log_and_register
    from aurora_pipelines.sources.sample_data import ID_COLUMN, TARGET, TIME_COLUMN
    from aurora_pipelines.training import train_experiment

    result = train_experiment(
        data,
        target=TARGET,
        problem_type="classification",
        algorithms=["logistic_regression"],
        cv_folds=cv_folds,
        seed=seed,
        primary_metric="roc_auc",
        id_column=ID_COLUMN,
        time_column=TIME_COLUMN,
    )
    registered = log_and_register(
        result,
        tracking_uri=tracking_uri,
        artifact_root=artifact_root,
        experiment_name=name,
        registered_model_name=name,
        sample_input=data.head(20),
        feature_table="bench",
        feature_table_version=feature_table_version,
        tags=tags,
        **register_kwargs,
    )
    return result, registered
