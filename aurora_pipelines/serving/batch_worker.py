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


@dataclass(frozen=True)
class Answers:
    """One Arrow batch of a version's input rows -> its answer columns (`schema`: the id,
    score, prediction, scored_at, label when carried, then one double per class
    probability). The Spark workers and the in-process engine (serving/batch_local.py) both
    call it, so the two engines write the same scores."""

    version: Any  # ModelVersion without its model (that travels apart, once)
    id_column: str
    label_column: str | None
    scored_at: Any  # numpy datetime64[us], naive UTC
    schema: Any  # pyarrow Schema of the answer columns
    proba_columns: tuple[str, ...]

    def answer(self, model: Scorer, batch: Any) -> Any:
        import pyarrow as pa

        version, columns = self.version, list(self.version.input_columns)
        out: dict[str, Any] = {}
        ids = batch.column(self.id_column)
        out[self.id_column] = ids if pa.types.is_string(ids.type) else _as_strings(ids)
        if version.is_unsupervised:
            from aurora_pipelines.training.unsupervised.estimators import unsupervised_outputs

            # score: distance / reconstruction error / anomaly score; per-output map:
            # cluster membership, components or the anomaly flag (drift compares each).
            score, prediction, matrix = unsupervised_outputs(
                model.model, batch.select(columns).to_pandas()
            )
            out["score"], out["prediction"] = score, prediction
        elif not version.is_classifier:
            out["score"] = model.answer_arrow(batch, columns, proba=False)
            out["prediction"] = out["score"]
            matrix = None
        else:
            matrix = model.answer_arrow(batch, columns, proba=True)
            score, picked = version.decide(matrix)
            out["score"] = score
            keys = np.asarray(version.class_keys, dtype=object)
            out["prediction"] = keys[picked] if version.is_multiclass else picked
        for i, column in enumerate(self.proba_columns):
            out[column] = matrix[:, i]
        out["scored_at"] = np.full(batch.num_rows, self.scored_at)
        if self.label_column:
            labels = batch.column(self.label_column).to_pandas()
            out["label"] = _labels(labels, version.is_multiclass).to_numpy()
        arrays = [pa.array(out[f.name], type=f.type) for f in self.schema]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


def _as_strings(values: Any) -> Any:
    """An id column as strings, as pandas' `astype(str)` writes them (1.0 stays "1.0")."""
    return values.to_pandas().astype(str).to_numpy(dtype=object)


def _labels(values: pd.Series, multiclass: bool) -> pd.Series:
    """The known outcome as the `label` column: class keys for multiclass, else numbers."""
    if multiclass:
        from aurora_pipelines.registry.model_version import class_key

        return values.map(lambda v: None if pd.isna(v) else class_key(v))
    return pd.to_numeric(values).astype("float64")
