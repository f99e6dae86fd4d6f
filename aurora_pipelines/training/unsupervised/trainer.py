"""Train an unsupervised task on a pandas frame: search on a seeded sample, fit, describe.

The result carries the fitted Pipeline (shared preprocessing + an `estimators.py` step),
the metrics the registry and the gate see, the search evidence (k curve, explained-variance
curve, per-detector scores) and the report the model card shows (cluster profiles,
components, score distribution).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import Pipeline
from sklearn.svm import OneClassSVM
from threadpoolctl import threadpool_limits

from aurora_pipelines.errors import DataError, SourceError, SpecError
from aurora_pipelines.training.unsupervised import UNSUPERVISED_METRICS
from aurora_pipelines.training.unsupervised.clustering import (
    ClusterCandidate,
    check_k_range,
    cluster_scores,
    fit_final,
    get_cluster_algorithm,
    search_k,
)
from aurora_pipelines.training.unsupervised.estimators import (
    AnomalyScorer,
    ComponentProjector,
    unsupervised_outputs,
)
from aurora_pipelines.training.unsupervised.preprocess import (
    build_preprocess,
    seeded_positions,
    select_inputs,
)

log = logging.getLogger(__name__)

DEFAULT_ALGORITHMS = {
    "clustering": ["kmeans", "gaussian_mixture", "agglomerative"],
    "dimensionality_reduction": ["pca"],
    "anomaly_detection": ["isolation_forest", "local_outlier_factor", "one_class_svm"],
}
DIMENSION_ALGORITHMS = ("pca", "truncated_svd")
ANOMALY_ALGORITHMS = ("isolation_forest", "local_outlier_factor", "one_class_svm")
# A label whose positive share is above this is a class, not an anomaly: classify it.
ANOMALY_LABEL_MAX_SHARE = 0.2
# Rows the sample-only detectors (LOF, one-class SVM: quadratic) are fitted on.
SAMPLE_DETECTOR_ROWS = 5000
EVALUATION_ROWS = 50_000


@dataclass
class UnsupervisedResult:
    problem_type: str
    primary_metric: str
    best_algorithm: str
    model: Pipeline
    feature_columns: list[str]
    metrics: dict[str, float]
    leaderboard: list[dict[str, Any]]
    params: dict[str, Any]
    n_rows: int
    search_rows: int
    seed: int
    curve: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    fit_seconds: float = 0.0
    family: str = "sklearn"
    target: str = ""

    @property
    def primary_score(self) -> float:
        return self.metrics[self.primary_metric]


def train_unsupervised(
    df: pd.DataFrame,
    *,
    problem_type: str,
    settings: Any,
    seed: int,
    id_column: str | None = None,
    time_column: str | None = None,
    experiment: str = "",
) -> UnsupervisedResult:
    """Train `problem_type` on `df` with the spec's `unsupervised` section `settings`."""
    algorithms = list(dict.fromkeys(settings.algorithms or DEFAULT_ALGORITHMS[problem_type]))
    label = settings.label_column if problem_type == "anomaly_detection" else None
    for role, column in (("id_column", id_column), ("time_column", time_column)):
        if column and column not in df.columns:
            raise SourceError(
                f"{role} '{column}' is not a column of the training data; fix the spec's `{role}`"
            )
    if label and label not in df.columns:
        raise SourceError(
            f"unsupervised.label_column '{label}' is not a column of the training data "
            f"(columns: {', '.join(map(str, df.columns[:12]))}); fix or remove it"
        )
    if len(df) < 4:
        raise DataError(f"experiment '{experiment}': {len(df)} rows are too few to train on")
    excluded = [id_column, time_column, label, *settings.exclude_columns]
    inputs = select_inputs(df, exclude=excluded, experiment=experiment)
    # One BLAS/OpenMP thread: the search is many small fits, and on a shared machine
    # oversubscribed threads made a k sweep ten times slower than one thread (measured).
    with threadpool_limits(limits=1):
        return _train(df, inputs, problem_type, algorithms, settings, seed, label, experiment)


def _train(df, inputs, problem_type, algorithms, settings, seed, label, experiment):  # noqa: ANN001, ANN202
    preprocess = build_preprocess(inputs.features, seed)
    started = time.perf_counter()
    Z = np.asarray(preprocess.fit_transform(inputs.X), dtype="float64")
    positions = seeded_positions(len(Z), settings.search_rows, seed)
    train = {
        "clustering": _train_clustering,
        "dimensionality_reduction": _train_reduction,
        "anomaly_detection": _train_anomaly,
    }[problem_type]
    result = train(Z, positions, inputs.X, algorithms, settings, seed, df[label] if label else None)
    step, metric, metrics, board, curve, params, warnings = result
    model = Pipeline([("preprocess", preprocess), ("model", step)])
    out = UnsupervisedResult(
        problem_type=problem_type,
        primary_metric=metric,
        best_algorithm=board[0]["algorithm"],
        model=model,
        feature_columns=inputs.features.all,
        metrics=metrics,
        leaderboard=board,
        params={**params, "algorithm": board[0]["algorithm"], "seed": seed},
        n_rows=len(df),
        search_rows=len(positions),
        seed=seed,
        curve=curve,
        warnings=warnings,
        fit_seconds=time.perf_counter() - started,
    )
    out.report = describe(out, inputs.X, Z)
    for warning in warnings:
        log.warning("experiment %s: %s", experiment, warning)
    return out


# clustering


def _train_clustering(Z, positions, X, algorithms, settings, seed, labels):  # noqa: ANN001, ANN202
    k_min, k_max = check_k_range(settings.k_min, settings.k_max, len(Z), settings.k)
    sample = Z[positions]
    k_min, k_max = check_k_range(k_min, min(k_max, len(sample) // 2), len(sample), None)
    candidates: list[ClusterCandidate] = []
    for name in algorithms:
        get_cluster_algorithm(name)
        candidates.append(search_k(name, sample, k_min, k_max, seed))
    ranked = sorted(candidates, key=lambda c: -c.silhouette)
    best = ranked[0]
    step = fit_final(best.algorithm, max(best.k, 2), Z, sample, seed)
    _, assigned, _ = step.outputs(sample)
    s, ch, db = cluster_scores(sample, assigned.astype(int), seed)
    metrics = {"silhouette": s, "calinski_harabasz": ch, "davies_bouldin": db, "k": float(best.k)}
    board = [
        {
            "algorithm": c.algorithm,
            "k": c.k,
            "silhouette": round(c.silhouette, 4),
            "calinski_harabasz": round(c.calinski_harabasz, 1),
            "davies_bouldin": round(c.davies_bouldin, 4),
            "noise_share": round(c.noise_share, 4),
            "rank": rank,
        }
        for rank, c in enumerate(ranked, start=1)
    ]
    curve = [
        {"algorithm": c.algorithm, **{k: v for k, v in vars(p).items() if v is not None}}
        for c in candidates
        for p in c.curve
    ]
    params = {"k": best.k, "k_min": k_min, "k_max": k_max, "fitted_as": step.algorithm}
    return step, "silhouette", metrics, board, curve, params, []


# dimensionality reduction


def _train_reduction(Z, positions, X, algorithms, settings, seed, labels):  # noqa: ANN001, ANN202
    unknown = [a for a in algorithms if a not in DIMENSION_ALGORITHMS]
    if unknown:
        raise SpecError(
            f"unknown dimensionality_reduction algorithm '{unknown[0]}' (known: "
            f"{', '.join(DIMENSION_ALGORITHMS)}); fix `unsupervised.algorithms`"
        )
    width = Z.shape[1]
    cap = min(settings.max_components or width, width, len(Z) - 1)
    rows, curve = [], []
    fitted: dict[str, tuple[Any, int, float]] = {}
    for name in algorithms:
        if name == "pca":
            reducer = PCA(n_components=min(width, len(Z)), random_state=seed).fit(Z)
        else:
            reducer = TruncatedSVD(n_components=max(1, min(width - 1, cap)), random_state=seed)
            reducer.fit(Z)
        cumulative = np.cumsum(reducer.explained_variance_ratio_)
        reached = np.nonzero(cumulative >= settings.variance_target - 1e-12)[0]
        n = int(reached[0]) + 1 if len(reached) else len(cumulative)
        n = max(1, min(n, cap))
        explained = float(cumulative[n - 1])
        fitted[name] = (reducer, n, explained)
        rows.append({"algorithm": name, "components": n, "explained_variance": round(explained, 4)})
        curve += [
            {
                "algorithm": name,
                "component": i + 1,
                "explained_variance": float(r),
                "cumulative": float(c),
            }
            for i, (r, c) in enumerate(
                zip(reducer.explained_variance_ratio_, cumulative, strict=True)
            )
        ]
    # Fewest components reaching the target, then the most variance.
    rows.sort(key=lambda r: (r["components"], -r["explained_variance"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    reducer, n, explained = fitted[rows[0]["algorithm"]]
    step = ComponentProjector(reducer=reducer, n_components=n).fit(Z)
    metrics = {"explained_variance": explained, "components": float(n), "input_width": float(width)}
    warnings = []
    if explained < settings.variance_target:
        warnings.append(
            f"{n} components explain {explained:.1%} of the variance, below the target "
            f"{settings.variance_target:.0%} (capped by unsupervised.max_components or the width)"
        )
    params = {"components": n, "variance_target": settings.variance_target}
    return step, "explained_variance", metrics, rows, curve, params, warnings


# anomaly detection


def _detector(name: str, contamination: float, seed: int) -> Any:
    if name == "isolation_forest":
        return IsolationForest(n_estimators=200, random_state=seed, n_jobs=1)
    if name == "local_outlier_factor":
        return LocalOutlierFactor(n_neighbors=20, novelty=True)
    return OneClassSVM(nu=max(contamination, 0.01), gamma="scale")


def estimate_contamination(score: np.ndarray) -> float:
    """Share of rows beyond the upper Tukey fence of the isolation-forest score, in
    [0.001, 0.5]: the anomaly share the data itself suggests."""
    q1, q3 = np.quantile(score, [0.25, 0.75])
    share = float((score > q3 + 1.5 * (q3 - q1)).mean())
    return float(np.clip(share, 0.001, 0.5))


def _train_anomaly(Z, positions, X, algorithms, settings, seed, labels):  # noqa: ANN001, ANN202
    unknown = [a for a in algorithms if a not in ANOMALY_ALGORITHMS]
    if unknown:
        raise SpecError(
            f"unknown anomaly_detection algorithm '{unknown[0]}' (known: "
            f"{', '.join(ANOMALY_ALGORITHMS)}); fix `unsupervised.algorithms`"
        )
    warnings: list[str] = []
    y = None
    if labels is not None:
        y = pd.to_numeric(labels, errors="coerce").fillna(0).to_numpy() > 0
        share = float(y.mean())
        if share > ANOMALY_LABEL_MAX_SHARE:
            warnings.append(
                f"label '{labels.name}' marks {share:.0%} of rows as anomalies: that is a class, "
                f"not a rare event; train problem_type classification with target "
                f"'{labels.name}' (the detector is still trained, without the label)"
            )
    forest = IsolationForest(n_estimators=200, random_state=seed, n_jobs=1).fit(Z)
    if settings.contamination == "auto":
        contamination = estimate_contamination(-forest.score_samples(Z))
        source = "estimated"
    else:
        contamination, source = float(settings.contamination), "spec"
    sample = Z[positions]
    # Thresholds and average precision on a seeded evaluation sample: scoring every row with
    # a one-class SVM is rows x support vectors, too slow for a large table.
    evaluated = seeded_positions(len(Z), EVALUATION_ROWS, seed + 1)
    if y is not None:
        y = y[evaluated]
    rows, steps = [], {}
    for name in algorithms:
        detector = forest if name == "isolation_forest" else _detector(name, contamination, seed)
        if name != "isolation_forest":
            # Quadratic in rows: fitted on (a part of) the seeded sample.
            detector.fit(sample[:SAMPLE_DETECTOR_ROWS])
        train_score = -np.asarray(detector.score_samples(Z[evaluated]), dtype="float64")
        threshold = float(np.quantile(train_score, 1 - contamination))
        steps[name] = AnomalyScorer(detector=detector, threshold=threshold).fit(Z)
        row: dict[str, Any] = {
            "algorithm": name,
            "anomaly_rate": round(float((train_score > threshold).mean()), 4),
        }
        if y is not None and 0 < y.sum() < len(y):
            row["average_precision"] = round(float(average_precision_score(y, train_score)), 4)
        rows.append(row)
    if y is not None and all("average_precision" in r for r in rows):
        metric = "average_precision"
        rows.sort(key=lambda r: -r["average_precision"])
    else:
        # Without labels nothing ranks detectors: keep the listed (recommended) order.
        metric = "anomaly_rate"
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    best = rows[0]
    step = steps[best["algorithm"]]
    metrics = {"anomaly_rate": float(best["anomaly_rate"]), "contamination": contamination}
    if "average_precision" in best:
        metrics["average_precision"] = float(best["average_precision"])
        metrics["label_share"] = float(y.mean())
    params = {"contamination": contamination, "contamination_source": source}
    return step, metric, metrics, rows, [], params, warnings


# reports


def describe(result: UnsupervisedResult, X: pd.DataFrame, Z: np.ndarray) -> dict[str, Any]:
    """The model card's view: cluster profiles, components or the score distribution."""
    positions = seeded_positions(len(X), 50_000, result.seed)
    X_s = X.iloc[positions]
    score, prediction, matrix = unsupervised_outputs(result.model, X_s)
    if result.problem_type == "clustering":
        return {"cluster_profiles": cluster_profiles(X_s, prediction)}
    if result.problem_type == "dimensionality_reduction":
        step = result.model.named_steps["model"]
        names = list(result.model.named_steps["preprocess"].get_feature_names_out())
        loadings = np.asarray(step.reducer.components_)[: step.n_components]
        top = []
        for i, row in enumerate(loadings):
            order = np.argsort(-np.abs(row))[:5]
            top.append(
                {
                    "component": f"pc{i + 1}",
                    "top_loadings": {names[j]: round(float(row[j]), 4) for j in order},
                }
            )
        return {"components": top, "reconstruction_error": _quantiles(score)}
    return {"score_distribution": _quantiles(score), "flagged_share": float(prediction.mean())}


def _quantiles(values: np.ndarray) -> dict[str, float]:
    qs = [0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0]
    return {
        f"q{int(q * 100)}": round(float(v), 6)
        for q, v in zip(qs, np.quantile(values, qs), strict=True)
    }


def cluster_profiles(X: pd.DataFrame, clusters: np.ndarray, top: int = 3) -> list[dict[str, Any]]:
    """Per cluster: size, share, centroid (numeric means) and medoid-ish modes in original
    units, and the features that set it apart most (standardised mean difference)."""
    numeric = X.select_dtypes("number")
    overall_mean, overall_std = numeric.mean(), numeric.std(ddof=0).replace(0, np.nan)
    categorical = [c for c in X.columns if c not in numeric.columns]
    profiles = []
    for cluster in sorted(np.unique(clusters)):
        members = clusters == cluster
        part = numeric[members]
        effect = ((part.mean() - overall_mean) / overall_std).dropna()
        ranked = effect.reindex(effect.abs().sort_values(ascending=False).index)[:top]
        profiles.append(
            {
                "cluster": int(cluster),
                "size": int(members.sum()),
                "share": round(float(members.mean()), 4),
                "centroid": {c: round(float(v), 4) for c, v in part.mean().items()},
                "modes": {
                    c: str(X.loc[members, c].mode().iloc[0])
                    if X.loc[members, c].notna().any()
                    else None
                    for c in categorical
                },
                "distinguishing": {c: round(float(v), 3) for c, v in ranked.items()},
            }
        )
    return profiles


def metric_names(problem_type: str) -> dict[str, bool]:
    return UNSUPERVISED_METRICS[problem_type]
