"""Rules that turn data characteristics into ranked algorithms, a metric and a validation scheme.

Every candidate starts from a prior (what wins most often on tabular data of ordinary
size) and each rule that fires moves it up or down with a plain-language reason, so the
ranking explains itself. The numbers are deliberately few and named here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from aurora_pipelines.recommend.characteristics import DataCharacteristics
from aurora_pipelines.training.algorithms import ALGORITHMS, AlgorithmSpec

# Beyond either limit a table no longer trains comfortably in one process's memory.
SINGLE_NODE_MAX_ROWS = 2_000_000
SINGLE_NODE_MAX_BYTES = 4 * 2**30
SMALL_ROWS = 1_000
LARGE_ROWS = 50_000
IMBALANCE_SHARE = 0.2  # minority class below this share -> weights + PR-AUC
SKEWED_TARGET = 2.0  # |skewness| above this -> MAE
STRONG_LINEAR = {"roc_auc": 0.95, "r2": 0.9}
WEAK_LINEAR = {"roc_auc": 0.75, "r2": 0.5}

PRIORS = {
    "hist_gradient_boosting": 0.80,
    "lightgbm": 0.78,
    "xgboost": 0.72,
    "random_forest": 0.65,
    "logistic_regression": 0.60,
    "ridge": 0.60,
    "linear_regression": 0.50,
    "torch_mlp": 0.45,
}
DEFAULT_PRIOR = {"sklearn": 0.5, "torch": 0.45, "spark": 0.3}


@dataclass
class Suggestion:
    algorithm: str
    family: str
    rank: int
    score: float
    reasons: list[str]
    search_space: dict[str, dict[str, Any]]
    description: str = ""


@dataclass
class Recommendation:
    problem_type: str
    algorithms: list[Suggestion]
    primary_metric: str
    metric_reasons: list[str]
    validation: str
    validation_reasons: list[str]
    cv_folds: int
    class_weight: bool
    characteristics: DataCharacteristics
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["characteristics"] = self.characteristics.as_dict()
        return data


def _n(value: int) -> str:
    return f"{value:,}"


def _is(spec: AlgorithmSpec, tag: str) -> bool:
    return tag in spec.tags


def recommend(chars: DataCharacteristics) -> Recommendation:
    """Ranked algorithms for `chars.problem_type`, with a metric and a validation scheme."""
    problem = chars.problem_type
    candidates = [spec for spec in ALGORITHMS.values() if spec.supports(problem)]
    score = {s.name: PRIORS.get(s.name, DEFAULT_PRIOR.get(s.family, 0.5)) for s in candidates}
    reasons: dict[str, list[str]] = {s.name: [] for s in candidates}

    def adjust(spec: AlgorithmSpec, delta: float, reason: str) -> None:
        score[spec.name] += delta
        reasons[spec.name].append(reason)

    too_big = chars.rows > SINGLE_NODE_MAX_ROWS or chars.memory_bytes > SINGLE_NODE_MAX_BYTES
    size = f"{_n(chars.rows)} rows (≈{chars.memory_gib:.1f} GiB in memory)"
    for spec in candidates:
        if spec.description:
            reasons[spec.name].append(spec.description)
        if spec.family == "spark":
            if too_big:
                adjust(
                    spec,
                    +1.0,
                    f"{size} exceed the single-node limit ({_n(SINGLE_NODE_MAX_ROWS)} rows or "
                    f"{SINGLE_NODE_MAX_BYTES / 2**30:.0f} GiB) → Spark MLlib trains where the "
                    "data lives, without collecting it",
                )
            else:
                adjust(
                    spec,
                    -0.2,
                    f"{size} fit on one node: Spark's JVM and shuffles would only add overhead",
                )
            continue
        if too_big:
            adjust(
                spec,
                -0.5,
                f"{size} exceed one node: only usable on a sample (`training.max_train_rows`)",
            )
        if chars.rows < SMALL_ROWS:
            if spec.family == "torch":
                adjust(spec, -0.3, f"{_n(chars.rows)} rows are too few for a neural network")
            elif _is(spec, "boosting"):
                adjust(spec, -0.15, f"boosting can overfit {_n(chars.rows)} rows")
            elif _is(spec, "linear"):
                adjust(
                    spec,
                    +0.25,
                    f"few rows ({_n(chars.rows)}): a regularised linear model is safest",
                )
            elif _is(spec, "bagging"):
                adjust(spec, +0.05, "bagging stays stable on small data")
        elif chars.rows >= LARGE_ROWS:
            if spec.family == "torch":
                adjust(spec, +0.1, f"{_n(chars.rows)} rows are enough to train an MLP")
            if _is(spec, "bagging"):
                adjust(spec, -0.1, f"deep forests grow slowly on {_n(chars.rows)} rows")
            if spec.family in ("lightgbm", "xgboost"):
                adjust(spec, +0.05, f"{_n(chars.rows)} rows: its histogram trees scale well")
        if chars.missing_cell_share > 0:
            share = f"{chars.missing_cell_share:.1%} of feature cells are missing"
            if _is(spec, "boosting"):
                adjust(spec, +0.05, f"{share}: histogram boosting also learns from missingness")
            else:
                reasons[spec.name].append(f"{share}: imputed inside the pipeline (no CV leak)")
        if chars.high_cardinality and (_is(spec, "linear") or spec.family == "torch"):
            worst = max(chars.high_cardinality, key=chars.high_cardinality.get)
            adjust(
                spec,
                -0.05,
                f"'{worst}' has {_n(chars.high_cardinality[worst])} levels: one-hot keeps only "
                "the most frequent, trees use the rest better",
            )
        if chars.features and chars.rows < 10 * chars.features and _is(spec, "linear"):
            adjust(
                spec,
                +0.1,
                f"{chars.features} features for {_n(chars.rows)} rows: regularisation matters",
            )
        baseline = chars.baseline
        if baseline is not None and baseline.metric in STRONG_LINEAR:
            seen = f"a linear baseline reaches {baseline.metric} {baseline.score:.3f}"
            if baseline.score >= STRONG_LINEAR[baseline.metric]:
                if _is(spec, "linear"):
                    adjust(
                        spec,
                        +0.25,
                        f"{seen}: a linear model is nearly as good and easiest to explain",
                    )
            elif baseline.score < WEAK_LINEAR[baseline.metric] and _is(spec, "trees"):
                adjust(spec, +0.05, f"{seen} only: non-linear effects are likely")
        if problem == "classification" and _is_imbalanced(chars):
            reasons[spec.name].append(
                f"1:{chars.imbalance_ratio:.0f} class imbalance → balanced class weights "
                "tried in tuning (unweighted first: forced weights can lower ROC AUC)"
            )

    ordered = sorted(candidates, key=lambda s: (-round(score[s.name], 6), s.name))
    suggestions = [
        Suggestion(
            algorithm=spec.name,
            family=spec.family,
            rank=rank,
            score=round(score[spec.name], 3),
            reasons=reasons[spec.name],
            search_space=dict(spec.search_space),
            description=spec.description,
        )
        for rank, spec in enumerate(ordered, start=1)
    ]
    metric, metric_reasons = _metric(chars)
    validation, validation_reasons, folds = _validation(chars)
    notes = []
    if chars.baseline is not None:
        b = chars.baseline
        notes.append(
            f"linear baseline ({b.algorithm}, {b.rows:,} rows, 3-fold): {b.metric} {b.score}"
        )
    return Recommendation(
        problem_type=problem,
        algorithms=suggestions,
        primary_metric=metric,
        metric_reasons=metric_reasons,
        validation=validation,
        validation_reasons=validation_reasons,
        cv_folds=folds,
        class_weight=problem == "classification" and _is_imbalanced(chars),
        characteristics=chars,
        notes=notes,
    )


def _is_imbalanced(chars: DataCharacteristics) -> bool:
    return chars.minority_share is not None and chars.minority_share < IMBALANCE_SHARE


def _metric(chars: DataCharacteristics) -> tuple[str, list[str]]:
    if chars.problem_type == "classification":
        if chars.target_kind == "binary" and _is_imbalanced(chars):
            return "average_precision", [
                f"1:{chars.imbalance_ratio:.0f} imbalance (minority {chars.minority_share:.1%}) "
                "→ PR-AUC (average precision): it tracks the rare class, where ROC-AUC "
                "stays high even when most positives are missed"
            ]
        if chars.target_kind == "binary":
            return "roc_auc", ["balanced binary target → ROC-AUC ranks cases threshold-free"]
        return "log_loss", [
            f"{len(chars.classes)} classes → log loss scores every class's probability"
        ]
    if chars.target_skew is not None and abs(chars.target_skew) > SKEWED_TARGET:
        return "mae", [
            f"target skewness {chars.target_skew:.1f} → MAE: robust to the long tail "
            "that would dominate RMSE"
        ]
    return "rmse", ["roughly symmetric target → RMSE, in the target's own units"]


def _validation(chars: DataCharacteristics) -> tuple[str, list[str], int]:
    folds = 10 if chars.rows < SMALL_ROWS else 3 if chars.rows > 1_000_000 else 5
    fold_reason = {
        10: f"{_n(chars.rows)} rows: 10 folds keep each training split large",
        3: f"{_n(chars.rows)} rows: 3 folds are precise enough and 40% cheaper than 5",
        5: "5 folds balance the estimate's variance and cost",
    }[folds]
    if chars.time_column:
        return (
            "time",
            [
                f"time column '{chars.time_column}' → time-ordered splits (train on the past, "
                "validate on the future) and the latest rows as the final holdout, so no "
                "future information leaks into training",
                fold_reason,
            ],
            folds,
        )
    if chars.problem_type == "classification":
        return (
            "kfold",
            ["stratified k-fold keeps the class ratio in every fold", fold_reason],
            folds,
        )
    return "kfold", ["shuffled k-fold", fold_reason], folds
