"""A model-version handle around a model fitted in the test, for engine tests that score
without registering (registered versions are loaded with `load_model_version`)."""

from __future__ import annotations

from typing import Any

from aurora_pipelines.registry.model_version import (
    ModelVersion,
    metric_direction,
    model_classes,
)


def in_memory_version(
    model: Any,
    input_columns: list[str],
    *,
    version: str = "1",
    name: str = "toy",
    problem_type: str = "classification",
    primary_metric: str | None = None,
    threshold: float | None = None,
) -> ModelVersion:
    metric = primary_metric or ("roc_auc" if problem_type == "classification" else "rmse")
    return ModelVersion(
        name=name,
        version=version,
        model=model,
        input_columns=tuple(input_columns),
        problem_type=problem_type,
        primary_metric=metric,
        greater_is_better=metric_direction(metric, problem_type),
        threshold=threshold,
        classes=model_classes(model) if problem_type == "classification" else (),
    )
