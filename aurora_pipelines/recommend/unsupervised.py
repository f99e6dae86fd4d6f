"""Recommendations for the unsupervised tasks, and the task suggestions every experiment
gets: no target → the unsupervised tasks; a rare label → anomaly detection beside the
classifier; a label that is not rare in an anomaly spec → classification.

Ranks the candidate algorithms of the spec's task with reasons from the table's size and
shape, in the same `Recommendation` the supervised rules produce, so the report, the plan
and the UI need no second format.
"""

from __future__ import annotations

import pandas as pd

from aurora_pipelines.recommend.characteristics import SAMPLE_ROWS, DataCharacteristics
from aurora_pipelines.recommend.rules import Recommendation, Suggestion
from aurora_pipelines.specs import ExperimentSpec
from aurora_pipelines.training.algorithms import select_feature_columns

RARE_LABEL_SHARE = 0.05  # minority share below this → anomaly detection as a complement
LARGE_ROWS = 200_000  # above: mini-batch k-means, and no quadratic algorithm on all rows
WIDE_FEATURES = 30  # above: dimensionality reduction is worth a look


def task_notes(df: pd.DataFrame, spec: ExperimentSpec) -> list[str]:
    """Which other tasks suit this table, and why (shown with every recommendation)."""
    notes = []
    tasks = {t.value for t in (spec.tasks or [spec.problem_type])}
    if not spec.target and spec.problem_type.value != "anomaly_detection":
        notes.append(
            "task: no target column → unsupervised tasks: clustering (segments), "
            "dimensionality_reduction (compact features), anomaly_detection (rare rows)"
        )
    label = spec.target or spec.unsupervised.label_column
    if label and label in df.columns:
        counts = df[label].value_counts(normalize=True)
        if len(counts) == 2 and float(counts.min()) < RARE_LABEL_SHARE:
            if "anomaly_detection" not in tasks:
                notes.append(
                    f"task: '{label}' is rare ({float(counts.min()):.1%} of rows) → add "
                    "anomaly_detection as a complement (`tasks: [classification, "
                    "anomaly_detection]`): it also flags unusual rows no label describes yet"
                )
        elif spec.problem_type.value == "anomaly_detection" and len(counts) == 2:
            notes.append(
                f"task: '{label}' marks {float(counts.min()):.0%} of rows → not rare: "
                "classification with this target will learn it better than a detector"
            )
    features = select_feature_columns(df, target=spec.target or "", exclude=[spec.id_column])
    if len(features.all) > WIDE_FEATURES and "dimensionality_reduction" not in tasks:
        notes.append(
            f"task: {len(features.all)} features → dimensionality_reduction can compress them "
            "(PCA to the variance target) for clustering or visualisation"
        )
    return notes


_CANDIDATES = {
    "clustering": [
        ("kmeans", 0.8, "k-means: compact clusters, fast, k chosen automatically"),
        ("gaussian_mixture", 0.7, "Gaussian mixture: elliptical clusters, k also by BIC"),
        ("agglomerative", 0.6, "agglomerative (Ward) on a sample: no centroid assumption"),
        ("birch", 0.5, "BIRCH: one pass over the rows"),
        ("mini_batch_kmeans", 0.5, "mini-batch k-means: bounded memory"),
        ("hdbscan", 0.4, "HDBSCAN on a sample: density clusters, noise left out"),
        ("dbscan", 0.3, "DBSCAN on a sample: density clusters with an estimated eps"),
    ],
    "dimensionality_reduction": [
        ("pca", 0.8, "PCA: orthogonal components, components kept to the variance target"),
        ("truncated_svd", 0.6, "TruncatedSVD: no centring, suits sparse one-hot inputs"),
    ],
    "anomaly_detection": [
        ("isolation_forest", 0.8, "IsolationForest: scales linearly, no distance needed"),
        ("local_outlier_factor", 0.6, "LOF (novelty mode) on a sample: local density"),
        ("one_class_svm", 0.5, "one-class SVM on a sample: a smooth boundary"),
    ],
}
_METRICS = {
    "clustering": ("silhouette", ["silhouette on a seeded sample picks k and the algorithm"]),
    "dimensionality_reduction": (
        "explained_variance",
        ["share of variance kept by the chosen components"],
    ),
    "anomaly_detection": (
        "anomaly_rate",
        ["no label: the flagged share must stay a minority"],
    ),
}


def recommend_unsupervised(
    df: pd.DataFrame, spec: ExperimentSpec, total_rows: int | None = None
) -> Recommendation:
    kind = spec.problem_type.value
    rows = int(total_rows if total_rows is not None else len(df))
    label = spec.unsupervised.label_column
    features = select_feature_columns(
        df, target=label or "", exclude=[spec.id_column, spec.time_column]
    )
    scores, reasons = {}, {}
    for name, prior, why in _CANDIDATES[kind]:
        scores[name], reasons[name] = prior, [why]
        if rows > LARGE_ROWS:
            if name in ("mini_batch_kmeans", "isolation_forest"):
                scores[name] += 0.35
                reasons[name].append(f"{rows:,} rows: fitted on all of them in bounded memory")
            if name in ("agglomerative", "dbscan", "hdbscan", "gaussian_mixture", "birch"):
                scores[name] -= 0.2
                reasons[name].append(f"{rows:,} rows: only a sample is clustered")
        if features.categorical and name == "truncated_svd":
            scores[name] += 0.1
            reasons[name].append("categorical columns one-hot encode to sparse inputs")
    ordered = sorted(scores, key=lambda n: (-round(scores[n], 6), n))
    metric, metric_reasons = _METRICS[kind]
    if kind == "anomaly_detection" and label and label in df.columns:
        metric, metric_reasons = "average_precision", [f"label '{label}' scores the detector"]
    chars = DataCharacteristics(
        rows=rows,
        sampled_rows=min(len(df), SAMPLE_ROWS),
        features=len(features.all),
        numeric_features=len(features.numeric),
        categorical_features=len(features.categorical),
        target="",
        problem_type=kind,
        target_kind="none",
    )
    return Recommendation(
        problem_type=kind,
        algorithms=[
            Suggestion(name, "sklearn", rank, round(scores[name], 3), reasons[name], {})
            for rank, name in enumerate(ordered, start=1)
        ],
        primary_metric=metric,
        metric_reasons=metric_reasons,
        validation="sample",
        validation_reasons=[
            f"no target to cross-validate: selection on a seeded sample of "
            f"{spec.unsupervised.search_rows:,} rows"
        ],
        cv_folds=2,
        class_weight=False,
        characteristics=chars,
        notes=task_notes(df, spec),
    )
