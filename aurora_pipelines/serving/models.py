"""Loaded model versions for the scoring service, and the pool that keeps them warm.

A version is loaded once, off the request path (the routing poller preloads every version
a role points at), through the model-version handle (`registry/model_version.py`), which
checks the artifact digest and skops' trusted types. Scoring then calls the fitted sklearn
pipeline in process (via the compiled fast path when the pipeline is Aurora's standard one):
no MLflow call per request.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aurora_pipelines.registry.model_version import DEFAULT_THRESHOLD, ModelVersion, decide
from aurora_pipelines.serving.fastpath import compile_pipeline
from aurora_pipelines.serving.validation import InputSchema, to_frame
from aurora_pipelines.training.unsupervised.estimators import is_unsupervised_model

log = logging.getLogger(__name__)
BACKGROUND_FILE = "shap_background.parquet"  # written by explain/model_card.py


@dataclass
class LoadedModel:
    """One registered version, ready to score."""

    name: str
    version: str
    model: Any
    schema: InputSchema
    threshold: float | None
    input_example: pd.DataFrame | None = None
    background_path: Path | None = None
    _fast: Any = field(default=None, repr=False)
    _background: pd.DataFrame | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.classes = list(getattr(self.model, "classes_", []))
        self.is_classifier = hasattr(self.model, "predict_proba") and bool(self.classes)
        fast = compile_pipeline(self.model)
        # Only a fast path proven equal to sklearn on the logged example is used.
        if fast is not None and self.input_example is not None:
            example = self.input_example[self.schema.names]
            self._fast = fast if fast.verified(self.model, example) else None

    @property
    def fast_path(self) -> bool:
        return self._fast is not None

    def score(self, frame: pd.DataFrame) -> tuple[list[dict[str, Any]], list[float], list[float]]:
        """(response predictions, log scores, log predictions) for each row of `frame`."""
        if self._fast is not None:
            return self._outputs(self._fast.transform(frame), self._fast.estimator)
        return self._outputs(frame, self.model)

    def score_records(
        self, records: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[float], list[float]]:
        """`score` of validated JSON records: with the fast path, records -> matrix directly
        (no DataFrame: building one cost more than the model on a single record)."""
        if self._fast is not None:
            return self._outputs(self._fast.transform_records(records), self._fast.estimator)
        return self._outputs(to_frame(records, self.schema), self.model)

    def _outputs(
        self, X: Any, estimator: Any
    ) -> tuple[list[dict[str, Any]], list[float], list[float]]:
        # X is the preprocessed matrix when `estimator` is the fast path's final step, else
        # the raw frame for the whole sklearn pipeline.
        if is_unsupervised_model(self.model):
            # Cluster id + distance, components, or anomaly score + flag.
            last = self.model.steps[-1][1]
            Z = X if estimator is not self.model else self.model[:-1].transform(X)
            out = [{**answer, "model_version": self.version} for answer in last.response(Z)]
            score, prediction, _ = last.outputs(Z)
            return out, score.astype(float).tolist(), prediction.astype(float).tolist()
        if not self.is_classifier:
            values = np.asarray(estimator.predict(X), dtype=float)
            out = [{"value": float(v), "model_version": self.version} for v in values]
            return out, values.tolist(), values.tolist()
        proba = np.asarray(estimator.predict_proba(X))
        # Binary: positive-class probability at the registered threshold; multiclass: argmax.
        scores, picked = decide(
            proba, DEFAULT_THRESHOLD if self.threshold is None else self.threshold
        )
        labels = [_plain(self.classes[i]) for i in picked]
        out = [
            {"probability": float(s), "label": label, "model_version": self.version}
            for s, label in zip(scores, labels, strict=True)
        ]
        return out, scores.astype(float).tolist(), picked.astype(float).tolist()

    def background(self) -> pd.DataFrame:
        """Training rows for SHAP: the model card's sample, else the logged input example."""
        if self._background is None:
            if self.background_path is not None and self.background_path.exists():
                self._background = pd.read_parquet(self.background_path)
            elif self.input_example is not None:
                self._background = self.input_example
            else:
                raise RuntimeError(f"no SHAP background for {self.name} v{self.version}")
        return self._background


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def load_version(
    tracking_uri: str, name: str, version: str, reports_dir: Path | None = None
) -> LoadedModel:
    """Load one version with its signature, threshold and input example (blocking, slow)."""
    from aurora_pipelines.registry.model_version import load_model_version

    return from_model_version(
        load_model_version(tracking_uri, name, version), tracking_uri, reports_dir
    )


def from_model_version(
    handle: ModelVersion, tracking_uri: str, reports_dir: Path | None = None
) -> LoadedModel:
    """A loaded version ready to serve: the handle plus its logged input example."""
    from mlflow.models import Model

    from aurora_pipelines.registry.mlflow_registry import download_model

    name, version = handle.name, handle.version
    if type(handle.model).__module__.startswith("pyspark.ml") or not hasattr(
        handle.model, "predict"
    ):
        # Scoring a Spark MLlib model needs a Spark session per request: batch scoring does it.
        raise RuntimeError(
            f"model {name} v{version} is a {type(handle.model).__name__}, not an in-process "
            "model; score it with batch scoring, or deploy an sklearn/torch version"
        )
    with tempfile.TemporaryDirectory(prefix="aurora-serve-") as tmp:
        local = download_model(tracking_uri, name, version, Path(tmp))
        try:
            example = Model.load(str(local)).load_input_example(str(local))
        except Exception:  # an example is only a fallback SHAP background
            example = None
    background = None
    if reports_dir is not None:
        from aurora_pipelines.explain.generate import model_card_dir

        background = model_card_dir(reports_dir, name, version) / BACKGROUND_FILE
    return LoadedModel(
        name=name,
        version=version,
        model=handle.model,
        schema=InputSchema.from_signature(handle.signature),
        threshold=handle.threshold,
        input_example=example if isinstance(example, pd.DataFrame) else None,
        background_path=background,
    )


class ModelPool:
    """Versions loaded so far, by (model name, version); a failed load is remembered."""

    def __init__(self, tracking_uri: str, reports_dir: Path | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.reports_dir = reports_dir
        self._models: dict[tuple[str, str], LoadedModel] = {}
        self._errors: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def get(self, name: str, version: str) -> LoadedModel | None:
        return self._models.get((name, version))

    def error(self, name: str, version: str) -> str | None:
        return self._errors.get((name, version))

    def ensure(self, name: str, version: str) -> LoadedModel | None:
        """Load `version` unless loaded (or already failed); never raises."""
        key = (name, str(version))
        if key in self._models or key in self._errors:
            return self._models.get(key)
        with self._lock:
            if key in self._models or key in self._errors:
                return self._models.get(key)
            try:
                loaded = load_version(self.tracking_uri, name, str(version), self.reports_dir)
            except Exception as exc:
                log.error("cannot load model %s v%s: %s", name, version, exc)
                self._errors[key] = f"{type(exc).__name__}: {exc}"
                return None
            self._models[key] = loaded
            log.info("loaded model %s v%s", name, version)
            return loaded

    def retain(self, name: str, versions: set[str]) -> None:
        """Drop versions of `name` no role points at (and forget their load errors)."""
        with self._lock:
            for key in [k for k in self._models if k[0] == name and k[1] not in versions]:
                del self._models[key]
            for key in [k for k in self._errors if k[0] == name and k[1] not in versions]:
                del self._errors[key]
