"""What runs inside the executors' Python workers when an in-process model scores a batch.

The model travels once per executor as a Spark broadcast (not inside every task's closure)
and is unpickled once per Python worker process: workers are reused across tasks
(`spark.python.worker.reuse`, on by default), so the module-level cache below keeps it for
every later batch and task of the same scoring. Nothing here reads driver-local state (files,
the registry): on a cluster the executors have only what the broadcast carries.

Aurora's own pipeline shape runs on the numpy fast path of serving/fastpath.py (no sklearn
input validation and pandas round trips per step), checked once per worker against sklearn on
the first rows it scores; anything else, or a failed check, scores through the model itself.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

_KEEP = 4  # models kept per worker process (champion + challenger of a couple of runs)
_CHECK_ROWS = 256
_CACHE: OrderedDict[str, Scorer] = OrderedDict()


@dataclass(frozen=True)
class ModelShipment:
    """How a model reaches the executors: a key naming it, and a Spark broadcast of it (or the
    model itself where no SparkContext exists, e.g. Spark Connect: then it rides the closure)."""

    key: str
    payload: Any

    def load(self) -> Any:
        value = getattr(self.payload, "value", None)
        return self.payload if value is None else value


def ship(spark: Any, key: str, model: Any) -> ModelShipment:
    """A shipment of `model` for `spark`'s executors (a broadcast when the session has one)."""
    try:
        context = spark.sparkContext
    except Exception:  # Spark Connect has no SparkContext (and no broadcasts)
        return ModelShipment(key, model)
    return ModelShipment(key, context.broadcast(model))


class Scorer:
    """One model in a worker: the fast path once it has been checked, else the model."""

    def __init__(self, model: Any) -> None:
        from aurora_pipelines.serving.fastpath import compile_pipeline

        self.model = model
        self.compiled = compile_pipeline(model)
        self.checked = self.compiled is None

    def _answerer(self, features: pd.DataFrame) -> Any:
        if not self.checked:
            if not self.compiled.verified(self.model, features.iloc[:_CHECK_ROWS]):
                self.compiled = None  # answers differ from sklearn's: keep sklearn
            self.checked = True
        return self.compiled if self.compiled is not None else self.model

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(self._answerer(features).predict_proba(features), dtype="float64")

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(self._answerer(features).predict(features), dtype="float64")

    def answer_arrow(self, batch: Any, columns: list[str], proba: bool) -> np.ndarray:
        """Probabilities (or predictions) for a pyarrow RecordBatch: the fast path reads the
        Arrow columns directly; the model gets the pandas frame it was fitted on."""
        if not self.checked:
            self._answerer(batch.slice(0, _CHECK_ROWS).to_pandas()[columns])
        if self.compiled is not None:
            x = self.compiled.transform_arrow(batch)
            estimator = self.compiled.estimator
            answer = estimator.predict_proba(x) if proba else estimator.predict(x)
        else:
            frame = batch.select(columns).to_pandas()
            answer = self.model.predict_proba(frame) if proba else self.model.predict(frame)
        return np.asarray(answer, dtype="float64")


def scorer(shipment: ModelShipment) -> Scorer:
    """The worker's scorer of the shipped model, loaded on first use."""
    found = _CACHE.get(shipment.key)
    if found is None:
        found = _CACHE[shipment.key] = Scorer(shipment.load())
        while len(_CACHE) > _KEEP:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(shipment.key)
    return found
