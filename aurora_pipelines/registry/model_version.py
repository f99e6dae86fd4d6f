"""One handle on a registered model version: what every consumer of a model needs to know.

Serving, batch scoring, UAT, explain and monitoring all load a version the same way: the
model (digest- and type-checked), its input columns (the MLflow signature), its decision
threshold, the metric it was trained on with its direction, and its classes. Before this
handle each of them rebuilt that from separate calls, with its own default threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Version tags written at registration (registry/mlflow_registry.py).
PROBLEM_TYPE_TAG = "aurora.problem_type"
PRIMARY_METRIC_TAG = "aurora.primary_metric"
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class ModelVersion:
    """A loaded registered version. `classes` is empty for a regressor."""

    name: str
    version: str
    model: Any = field(repr=False)
    input_columns: tuple[str, ...]
    problem_type: str
    primary_metric: str
    greater_is_better: bool
    digest: str = ""
    threshold: float | None = None
    classes: tuple[Any, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def is_classifier(self) -> bool:
        return self.problem_type == "classification"

    @property
    def is_multiclass(self) -> bool:
        return self.is_classifier and len(self.classes) > 2

    @property
    def decision_threshold(self) -> float:
        """The registered threshold of a binary classifier, else the 0.5 convention."""
        return DEFAULT_THRESHOLD if self.threshold is None else float(self.threshold)

    def better(self, candidate: float, baseline: float) -> bool:
        """Whether `candidate` beats `baseline` on this version's primary metric direction."""
        return candidate > baseline if self.greater_is_better else candidate < baseline


def model_classes(model: Any) -> tuple[Any, ...]:
    """The classes a fitted classifier predicts (sklearn `classes_`, Spark label metadata)."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        return ()
    return tuple(c.item() if hasattr(c, "item") else c for c in classes)


def load_model_version(
    tracking_uri: str,
    name: str,
    version: str,
    *,
    problem_type: str | None = None,
    primary_metric: str | None = None,
) -> ModelVersion:
    """Load version `version` of model `name` with everything its consumers need.

    `problem_type` and `primary_metric` are fallbacks for versions registered before the
    version carried them as tags; the tags win, since they say what the plan trained on.
    """
    from aurora_pipelines.errors import SpecError
    from aurora_pipelines.registry import mlflow_registry
    from aurora_pipelines.serving.batch import model_input_columns

    tags = mlflow_registry.version_tags(tracking_uri, name, version)
    registered = mlflow_registry.get_model_version(tracking_uri, name, version)
    kind = tags.get(PROBLEM_TYPE_TAG) or problem_type
    metric = tags.get(PRIMARY_METRIC_TAG) or primary_metric
    if not kind or not metric:
        raise SpecError(
            f"model '{name}' version {version} does not record its problem type and primary "
            "metric; pass them from the experiment spec or re-register the version"
        )
    model = mlflow_registry.load_model(tracking_uri, name, version)
    threshold = tags.get(mlflow_registry.THRESHOLD_TAG)
    return ModelVersion(
        name=name,
        version=str(version),
        model=model,
        input_columns=tuple(model_input_columns(tracking_uri, name, version)),
        problem_type=kind,
        primary_metric=metric,
        greater_is_better=metric_direction(metric, kind),
        digest=registered.digest,
        threshold=float(threshold) if threshold else None,
        classes=model_classes(model) if kind == "classification" else (),
        metrics=registered.metrics,
    )


def metric_direction(metric: str, problem_type: str) -> bool:
    """True when a higher `metric` is better (the trainer's metric registry decides)."""
    from aurora_pipelines.errors import SpecError
    from aurora_pipelines.training.trainer import get_metric

    try:
        return get_metric(metric, problem_type).greater_is_better
    except SpecError:
        # Spark MLlib metrics live in their own registry.
        from aurora_pipelines.training.spark_ml import SPARK_METRICS

        return SPARK_METRICS[problem_type][metric][1]
