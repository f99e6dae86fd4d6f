"""The last step of an unsupervised pipeline: a fitted model behind one small interface.

`predict(X)` gives one number per row (cluster id, anomaly flag 1/0, first component), so
MLflow's signature, the serving fast-path check and plain `Pipeline.predict` work as for a
regressor. `outputs(X)` gives what scoring writes: a score per row (distance to the
assigned centre, anomaly score, reconstruction error), the prediction, and one column per
`output_keys` entry (cluster membership 1/0, anomaly flag, component values) that batch
scoring stores as the per-output map and drift monitoring compares per key.

Algorithms without `predict` (agglomerative, DBSCAN, HDBSCAN) are fitted on a sample and
serve new rows by the nearest centre of their training clusters (DBSCAN/HDBSCAN noise is
cluster -1, never a centre), so every clustering serves the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator


def _dense(X: Any) -> np.ndarray:
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype="float64")


class ClusterAssigner(BaseEstimator):
    """Cluster ids by nearest centre (the centres of the fitted algorithm's clusters)."""

    problem_type = "clustering"

    def __init__(
        self, centers: Any = None, labels: Any = None, algorithm: str = "", model: Any = None
    ) -> None:
        self.centers = centers
        self.labels = labels
        self.algorithm = algorithm
        # An algorithm with its own `predict` (k-means, GMM, BIRCH) assigns; else nearest centre.
        self.model = model

    def fit(self, X: Any, y: Any = None) -> ClusterAssigner:
        self.n_features_in_ = np.asarray(self.centers).shape[1]
        return self

    @property
    def output_keys(self) -> tuple[str, ...]:
        return tuple(str(int(c)) for c in self.labels)

    def _distances(self, X: Any) -> np.ndarray:
        Z = _dense(X)
        centers = np.asarray(self.centers, dtype="float64")
        # ||z - c||² expanded: one matrix product, no n × k × d temporary.
        d2 = (Z**2).sum(1)[:, None] - 2 * Z @ centers.T + (centers**2).sum(1)[None, :]
        return np.sqrt(np.maximum(d2, 0.0))

    def _assign(self, X: Any, distances: np.ndarray) -> np.ndarray:
        """Index into `labels` of each row's cluster."""
        if self.model is None:
            return distances.argmin(axis=1)
        predicted = np.asarray(self.model.predict(_dense(X)))
        return np.searchsorted(np.asarray(self.labels), predicted)

    def predict(self, X: Any) -> np.ndarray:
        return self.outputs(X)[1]

    def outputs(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        distances = self._distances(X)
        nearest = self._assign(X, distances)
        membership = np.zeros_like(distances)
        membership[np.arange(len(nearest)), nearest] = 1.0
        labels = np.asarray(self.labels)[nearest].astype("float64")
        return distances[np.arange(len(nearest)), nearest], labels, membership

    def response(self, X: Any) -> list[dict[str, Any]]:
        score, labels, _ = self.outputs(X)
        return [
            {"cluster": int(c), "distance": float(d)} for c, d in zip(labels, score, strict=True)
        ]


class ComponentProjector(BaseEstimator):
    """A fitted PCA / TruncatedSVD kept to its first `n_components` components."""

    problem_type = "dimensionality_reduction"

    def __init__(self, reducer: Any = None, n_components: int = 1) -> None:
        self.reducer = reducer
        self.n_components = n_components

    def fit(self, X: Any, y: Any = None) -> ComponentProjector:
        self.n_features_in_ = self.reducer.n_features_in_
        return self

    @property
    def output_keys(self) -> tuple[str, ...]:
        return tuple(f"pc{i + 1}" for i in range(self.n_components))

    def transform(self, X: Any) -> np.ndarray:
        return np.asarray(self.reducer.transform(_dense(X)))[:, : self.n_components]

    def predict(self, X: Any) -> np.ndarray:
        return self.transform(X)[:, 0].astype("float64")

    def reconstruction_error(self, X: Any) -> np.ndarray:
        Z = _dense(X)
        full = np.asarray(self.reducer.transform(Z))
        full[:, self.n_components :] = 0.0
        back = self.reducer.inverse_transform(full)
        return np.sqrt(((Z - back) ** 2).sum(axis=1))

    def outputs(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        components = self.transform(X)
        return self.reconstruction_error(X), components[:, 0], components

    def response(self, X: Any) -> list[dict[str, Any]]:
        components = self.transform(X)
        error = self.reconstruction_error(X)
        keys = self.output_keys
        return [
            {
                "components": dict(zip(keys, map(float, row), strict=True)),
                "reconstruction_error": float(e),
            }
            for row, e in zip(components, error, strict=True)
        ]


class AnomalyScorer(BaseEstimator):
    """A fitted detector: score = -score_samples (higher is more anomalous), flagged above
    the training score's (1 - contamination) quantile."""

    problem_type = "anomaly_detection"

    def __init__(self, detector: Any = None, threshold: float = 0.0) -> None:
        self.detector = detector
        self.threshold = threshold

    def fit(self, X: Any, y: Any = None) -> AnomalyScorer:
        self.n_features_in_ = self.detector.n_features_in_
        return self

    output_keys = ("anomaly",)

    def score(self, X: Any) -> np.ndarray:  # type: ignore[override]
        return -np.asarray(self.detector.score_samples(_dense(X)), dtype="float64")

    def predict(self, X: Any) -> np.ndarray:
        return (self.score(X) > self.threshold).astype("float64")

    def outputs(self, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        score = self.score(X)
        flag = (score > self.threshold).astype("float64")
        return score, flag, flag[:, None]

    def response(self, X: Any) -> list[dict[str, Any]]:
        score = self.score(X)
        return [{"anomaly_score": float(s), "is_anomaly": bool(s > self.threshold)} for s in score]


def is_unsupervised_model(model: Any) -> bool:
    """A Pipeline (or bare estimator) ending in one of the estimators above."""
    last = model.steps[-1][1] if hasattr(model, "steps") else model
    return hasattr(last, "outputs") and hasattr(last, "output_keys")


def _split(model: Any) -> tuple[Any, Any]:
    if hasattr(model, "steps"):
        return model[:-1], model.steps[-1][1]
    return None, model


def unsupervised_outputs(model: Any, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, prediction, output matrix) of an unsupervised pipeline on raw rows `X`."""
    head, last = _split(model)
    return last.outputs(head.transform(X) if head is not None else X)


def unsupervised_response(model: Any, X: Any) -> list[dict[str, Any]]:
    """What `/predict` answers per row: cluster + distance, components, or score + flag."""
    head, last = _split(model)
    return last.response(head.transform(X) if head is not None else X)


def output_keys(model: Any) -> tuple[str, ...]:
    return tuple(_split(model)[1].output_keys)
