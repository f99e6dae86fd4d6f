"""One handle on a registered model version: what every consumer of a model needs to know.

Serving, batch scoring, UAT, explain and monitoring all load a version the same way: the
model (digest- and type-checked), its input columns (the MLflow signature), its decision
threshold, the metric it was trained on with its direction, and its classes. Before this
handle each of them rebuilt that from separate calls, with its own default threshold.

What the version was trained as comes from the version itself: the tags
`aurora.problem_type` / `aurora.primary_metric` written at registration, else the training
run's `problem_type` / `primary_metric` parameters (versions registered before the tags),
else the caller's fallback (the experiment spec). The spec's `training.primary_metric` may
differ from the metric the plan trained on (a recommended metric), so it is only a fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from aurora_pipelines.specs import ExperimentSpec

# Version tags written at registration (registry/mlflow_registry.py).
PROBLEM_TYPE_TAG = "aurora.problem_type"
PRIMARY_METRIC_TAG = "aurora.primary_metric"
DEFAULT_THRESHOLD = 0.5


def class_key(value: Any) -> str:
    """The string a class is known by in scores (`class_probabilities` keys, multiclass
    `prediction`, multiclass `label`): numpy scalars unwrapped and integral floats written as
    integers, so a label read back as 2.0 matches the class 2 the model was fitted on."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


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
    # The MLflow ModelSignature (input types for the scoring service's request validation).
    signature: Any = field(default=None, repr=False, compare=False)

    @property
    def is_classifier(self) -> bool:
        return self.problem_type == "classification"

    @property
    def is_unsupervised(self) -> bool:
        return self.problem_type in (
            "clustering",
            "dimensionality_reduction",
            "anomaly_detection",
        )

    @property
    def is_multiclass(self) -> bool:
        return self.is_classifier and len(self.classes) > 2

    @property
    def class_keys(self) -> tuple[str, ...]:
        """The classes as score keys (see `class_key`), in the model's probability order."""
        return tuple(class_key(c) for c in self.classes)

    @property
    def decision_threshold(self) -> float:
        """The registered threshold of a binary classifier, else the 0.5 convention."""
        return DEFAULT_THRESHOLD if self.threshold is None else float(self.threshold)

    def better(self, candidate: float, baseline: float) -> bool:
        """Whether `candidate` beats `baseline` on this version's primary metric direction."""
        return candidate > baseline if self.greater_is_better else candidate < baseline

    def meets(self, value: float, bound: float) -> bool:
        """Whether `value` of the primary metric is on the right side of `bound` (a minimum
        for a higher-is-better metric, a maximum for rmse, mae, log_loss)."""
        return value >= bound if self.greater_is_better else value <= bound

    def decide(self, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(score, index of the predicted class) per row of class probabilities.

        Binary: the positive class's probability, cut at the registered threshold.
        Multiclass: the most probable class and its probability; no threshold applies.
        """
        return decide(proba, self.decision_threshold)


def decide(proba: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """`ModelVersion.decide` for a bare probability matrix (n rows x n classes)."""
    proba = np.asarray(proba, dtype="float64")
    if proba.shape[1] == 2:
        score = proba[:, 1]
        return score, (score >= threshold).astype("int64")
    return proba.max(axis=1), proba.argmax(axis=1).astype("int64")


def model_classes(model: Any) -> tuple[Any, ...]:
    """The classes a fitted classifier predicts, in its probability order: sklearn's
    `classes_`; for a Spark MLlib pipeline the label indices 0..numClasses-1 (the label the
    Spark trainer fits on)."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        stages = getattr(model, "stages", None)
        count = getattr(stages[-1], "numClasses", None) if stages else None
        return tuple(range(int(count))) if count else ()
    return tuple(c.item() if hasattr(c, "item") else c for c in classes)


def _output_classes(model: Any, kind: str) -> tuple[Any, ...]:
    """A classifier's classes; an unsupervised model's output keys (cluster ids, `anomaly`,
    component names), which scoring writes as the per-output map drift compares per key."""
    if kind == "classification":
        return model_classes(model)
    from aurora_pipelines.training.unsupervised import is_unsupervised

    if is_unsupervised(kind):
        from aurora_pipelines.training.unsupervised.estimators import output_keys

        return output_keys(model)
    return ()


def load_model_version(
    tracking_uri: str,
    name: str,
    version: str,
    *,
    problem_type: str | None = None,
    primary_metric: str | None = None,
) -> ModelVersion:
    """Load version `version` of model `name` with everything its consumers need.

    `problem_type` and `primary_metric` are fallbacks for versions that record neither as
    a version tag nor as a training-run parameter; what the version records wins, since it
    says what the plan trained on.
    """
    from aurora_pipelines.errors import SpecError
    from aurora_pipelines.registry import mlflow_registry

    tags = mlflow_registry.version_tags(tracking_uri, name, version)
    registered = mlflow_registry.get_model_version(tracking_uri, name, version)
    params = mlflow_registry.run_params(tracking_uri, registered.run_id)
    kind = tags.get(PROBLEM_TYPE_TAG) or params.get("problem_type") or problem_type
    metric = tags.get(PRIMARY_METRIC_TAG) or params.get("primary_metric") or primary_metric
    if not kind or not metric:
        raise SpecError(
            f"model '{name}' version {version} does not record its problem type and primary "
            "metric; pass them from the experiment spec or re-register the version"
        )
    signature = mlflow_registry.model_signature(tracking_uri, name, version)
    model = mlflow_registry.load_model(tracking_uri, name, version)
    threshold = tags.get(mlflow_registry.THRESHOLD_TAG)
    return ModelVersion(
        name=name,
        version=str(version),
        model=model,
        input_columns=tuple(signature.inputs.input_names()),
        problem_type=kind,
        primary_metric=metric,
        greater_is_better=metric_direction(metric, kind),
        digest=registered.digest,
        threshold=float(threshold) if threshold else None,
        classes=_output_classes(model, kind),
        metrics=registered.metrics,
        signature=signature,
    )


def load_experiment_version(
    tracking_uri: str, spec: ExperimentSpec, version: str, *, name: str | None = None
) -> ModelVersion:
    """Version `version` of experiment `spec`'s model (registered under the experiment's
    name unless `name` says otherwise); the spec's problem type and primary metric are only
    the fallbacks of `load_model_version`."""
    return load_model_version(
        tracking_uri,
        name or spec.name,
        version,
        problem_type=spec.problem_type.value,
        primary_metric=spec.training.primary_metric,
    )


def metric_direction(metric: str, problem_type: str) -> bool:
    """True when a higher `metric` is better (the trainer's metric registry decides)."""
    from aurora_pipelines.errors import SpecError
    from aurora_pipelines.training.trainer import get_metric
    from aurora_pipelines.training.unsupervised import UNSUPERVISED_METRICS

    if metric in UNSUPERVISED_METRICS.get(problem_type, {}):
        return UNSUPERVISED_METRICS[problem_type][metric]
    try:
        return get_metric(metric, problem_type).greater_is_better
    except SpecError:
        # Spark MLlib metrics live in their own registry.
        from aurora_pipelines.training.spark_ml import SPARK_METRICS

        if metric in SPARK_METRICS.get(problem_type, {}):
            return SPARK_METRICS[problem_type][metric][1]
        raise
