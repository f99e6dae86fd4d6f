"""Clustering: candidate algorithms, the automatic choice of k, and the final fit.

k is chosen on a seeded sample of the preprocessed rows: for each k in [k_min, k_max] the
algorithm is fitted and scored by silhouette (on at most SILHOUETTE_ROWS rows, seeded),
Calinski-Harabasz and Davies-Bouldin (+ BIC for a Gaussian mixture). The k with the best
silhouette wins (silhouette is bounded and compares across algorithms; the two others and
BIC are reported in the curve and break near-ties). The algorithms are then compared by
silhouette at their chosen k on the same sample, and the winner is fitted on every row
(k-means and mini-batch k-means, GMM, BIRCH) or on the sample (agglomerative, DBSCAN,
HDBSCAN: quadratic in memory or time), serving by nearest centre.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.cluster import (
    DBSCAN,
    HDBSCAN,
    AgglomerativeClustering,
    Birch,
    KMeans,
    MiniBatchKMeans,
)
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

from aurora_pipelines.errors import SpecError
from aurora_pipelines.training.unsupervised.estimators import ClusterAssigner

SILHOUETTE_ROWS = 2000
# Ties within this silhouette distance go to the better Calinski-Harabasz rank.
NEAR_TIE = 0.005
# Above this many rows a full fit uses mini-batch k-means in place of k-means.
MINI_BATCH_ROWS = 200_000


@dataclass(frozen=True)
class ClusterAlgorithm:
    name: str
    description: str
    uses_k: bool
    full_fit: bool  # fitted on every row (else on the search sample)
    build: Callable[[int, int], Any]  # (k, seed) -> unfitted estimator


CLUSTER_ALGORITHMS: dict[str, ClusterAlgorithm] = {
    a.name: a
    for a in [
        ClusterAlgorithm(
            "kmeans",
            "k-means: compact, similar-sized clusters; the fastest baseline.",
            True,
            True,
            lambda k, seed: KMeans(n_clusters=k, n_init=4, random_state=seed),
        ),
        ClusterAlgorithm(
            "mini_batch_kmeans",
            "mini-batch k-means: k-means in bounded memory for large tables.",
            True,
            True,
            lambda k, seed: MiniBatchKMeans(
                n_clusters=k, n_init=3, batch_size=4096, random_state=seed
            ),
        ),
        ClusterAlgorithm(
            "gaussian_mixture",
            "Gaussian mixture: elliptical clusters of different spread, soft assignment.",
            True,
            True,
            lambda k, seed: GaussianMixture(n_components=k, random_state=seed),
        ),
        ClusterAlgorithm(
            "agglomerative",
            "agglomerative (Ward) on a sample: nested clusters, no centroid assumption.",
            True,
            False,
            lambda k, seed: AgglomerativeClustering(n_clusters=k),
        ),
        ClusterAlgorithm(
            "birch",
            "BIRCH: one pass over the rows through a cluster-feature tree.",
            True,
            True,
            lambda k, seed: Birch(n_clusters=k),
        ),
        ClusterAlgorithm(
            "dbscan",
            "DBSCAN on a sample: density clusters of any shape, noise left unassigned.",
            False,
            False,
            lambda k, seed: DBSCAN(),
        ),
        ClusterAlgorithm(
            "hdbscan",
            "HDBSCAN on a sample: density clusters at varying density, no eps to tune.",
            False,
            False,
            lambda k, seed: HDBSCAN(min_cluster_size=15),
        ),
    ]
}


@dataclass
class KCurvePoint:
    k: int
    silhouette: float
    calinski_harabasz: float
    davies_bouldin: float
    bic: float | None = None


@dataclass
class ClusterCandidate:
    algorithm: str
    k: int
    silhouette: float
    calinski_harabasz: float
    davies_bouldin: float
    curve: list[KCurvePoint] = field(default_factory=list)
    noise_share: float = 0.0


def get_cluster_algorithm(name: str) -> ClusterAlgorithm:
    if name not in CLUSTER_ALGORITHMS:
        raise SpecError(
            f"unknown clustering algorithm '{name}' (known: {', '.join(CLUSTER_ALGORITHMS)}); "
            "fix `unsupervised.algorithms`"
        )
    return CLUSTER_ALGORITHMS[name]


def check_k_range(k_min: int, k_max: int, rows: int, fixed: int | None = None) -> tuple[int, int]:
    """The k range to search, refused outside [2, rows/2] (a cluster needs two rows)."""
    top = rows // 2
    if fixed is not None:
        if not 2 <= fixed <= top:
            raise SpecError(
                f"unsupervised.k = {fixed} is outside [2, {top}] for {rows:,} rows (a cluster "
                "needs at least two rows); lower `unsupervised.k` or add rows"
            )
        return fixed, fixed
    if k_min > top:
        raise SpecError(
            f"unsupervised.k_min = {k_min} is outside [2, {top}] for {rows:,} rows; lower "
            "`unsupervised.k_min` or add rows"
        )
    return k_min, min(k_max, top)


def _fit_labels(estimator: Any, Z: np.ndarray) -> np.ndarray:
    if hasattr(estimator, "fit_predict"):
        return np.asarray(estimator.fit_predict(Z))
    return np.asarray(estimator.fit(Z).predict(Z))


def cluster_scores(Z: np.ndarray, labels: np.ndarray, seed: int) -> tuple[float, float, float]:
    """(silhouette, Calinski-Harabasz, Davies-Bouldin) of `labels` on `Z`; noise (-1) left out."""
    keep = labels >= 0
    Z, labels = Z[keep], labels[keep]
    if len(np.unique(labels)) < 2 or len(labels) < 3:
        return -1.0, 0.0, float("inf")
    sample = min(SILHOUETTE_ROWS, len(labels))
    return (
        float(silhouette_score(Z, labels, sample_size=sample, random_state=seed)),
        float(calinski_harabasz_score(Z, labels)),
        float(davies_bouldin_score(Z, labels)),
    )


def _best_k(curve: list[KCurvePoint]) -> KCurvePoint:
    top = max(p.silhouette for p in curve)
    near = [p for p in curve if p.silhouette >= top - NEAR_TIE]
    return max(near, key=lambda p: (p.calinski_harabasz, -p.k))


def search_k(name: str, Z: np.ndarray, k_min: int, k_max: int, seed: int) -> ClusterCandidate:
    """The sweep of one algorithm over k on the sample `Z`, and its best k."""
    algorithm = get_cluster_algorithm(name)
    if not algorithm.uses_k:
        estimator = algorithm.build(0, seed)
        if name == "dbscan":
            estimator.set_params(eps=_dbscan_eps(Z))
        labels = _fit_labels(estimator, Z)
        s, ch, db = cluster_scores(Z, labels, seed)
        k = int(len(set(labels) - {-1}))
        return ClusterCandidate(
            name, k, s, ch, db, [KCurvePoint(k, s, ch, db)], float((labels < 0).mean())
        )
    curve = []
    tree = _ward_tree(Z) if name == "agglomerative" else None
    for k in range(k_min, k_max + 1):
        estimator = algorithm.build(k, seed)
        # One Ward tree cut at every k, rather than a quadratic fit per k.
        labels = _cut(tree, k) if tree is not None else _fit_labels(estimator, Z)
        s, ch, db = cluster_scores(Z, labels, seed)
        bic = float(estimator.bic(Z)) if hasattr(estimator, "bic") and tree is None else None
        curve.append(KCurvePoint(k, s, ch, db, bic))
    best = _best_k(curve)
    return ClusterCandidate(
        name, best.k, best.silhouette, best.calinski_harabasz, best.davies_bouldin, curve
    )


def _ward_tree(Z: np.ndarray) -> np.ndarray:
    from scipy.cluster.hierarchy import linkage

    return linkage(Z, method="ward")


def _cut(tree: np.ndarray, k: int) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster

    return fcluster(tree, t=k, criterion="maxclust").astype("int64") - 1


def _dbscan_eps(Z: np.ndarray, neighbours: int = 5) -> float:
    """eps at the knee of the sorted 5-NN distances (the 90th percentile: a robust knee)."""
    distances, _ = NearestNeighbors(n_neighbors=neighbours).fit(Z).kneighbors(Z)
    return float(np.quantile(distances[:, -1], 0.9)) or 0.5


def fit_final(
    name: str, k: int, Z_full: np.ndarray, Z_sample: np.ndarray, seed: int
) -> ClusterAssigner:
    """The chosen algorithm at k, fitted on every row (or the sample), as a ClusterAssigner."""
    algorithm = get_cluster_algorithm(name)
    if name == "kmeans" and len(Z_full) > MINI_BATCH_ROWS:
        algorithm = CLUSTER_ALGORITHMS["mini_batch_kmeans"]
    Z = Z_full if algorithm.full_fit else Z_sample
    estimator = algorithm.build(k, seed)
    if name == "dbscan":
        estimator.set_params(eps=_dbscan_eps(Z))
    labels = _cut(_ward_tree(Z), k) if name == "agglomerative" else _fit_labels(estimator, Z)
    if hasattr(estimator, "predict") and algorithm.uses_k:
        ids = np.arange(k)
        centers = getattr(estimator, "cluster_centers_", None)
        if centers is None:
            centers = getattr(estimator, "means_", None)
        if centers is None or len(centers) != k:  # BIRCH: centres of the final clusters
            centers = _centres(Z, labels, ids)
        return ClusterAssigner(
            centers=np.asarray(centers), labels=ids, algorithm=algorithm.name, model=estimator
        ).fit(Z)
    ids = np.unique(labels[labels >= 0])
    if len(ids) == 0:
        raise SpecError(
            f"{name} found no clusters in the sample (all rows are noise); choose another "
            "algorithm in `unsupervised.algorithms`"
        )
    return ClusterAssigner(centers=_centres(Z, labels, ids), labels=ids, algorithm=name).fit(Z)


def _centres(Z: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    return np.vstack(
        [Z[labels == i].mean(axis=0) if (labels == i).any() else np.zeros(Z.shape[1]) for i in ids]
    )
