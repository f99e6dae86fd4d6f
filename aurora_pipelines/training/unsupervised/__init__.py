"""Unsupervised problem types: clustering, dimensionality reduction, anomaly detection.

Each trains an sklearn Pipeline whose preprocessing is the supervised pipelines' own
(`algorithms.build_pipeline`, numeric columns scaled) and whose last step is one of the
estimators in `estimators.py`: they all `predict` one number per row and give the score,
prediction and per-output matrix that serving, batch scoring and drift monitoring use.
"""

from __future__ import annotations

UNSUPERVISED_TYPES = ("clustering", "dimensionality_reduction", "anomaly_detection")

# name -> greater_is_better, per problem type (the primary metric's direction).
UNSUPERVISED_METRICS: dict[str, dict[str, bool]] = {
    "clustering": {"silhouette": True, "calinski_harabasz": True, "davies_bouldin": False},
    "dimensionality_reduction": {"explained_variance": True},
    "anomaly_detection": {"average_precision": True, "anomaly_rate": False},
}


def is_unsupervised(problem_type: str) -> bool:
    return problem_type in UNSUPERVISED_TYPES
