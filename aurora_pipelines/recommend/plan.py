"""The training plan: the spec's explicit training fields win, the recommendation fills the rest.

"Explicit" means written in the spec file (pydantic's `model_fields_set`), so a spec that
states `primary_metric: roc_auc` keeps it even though it is also the field's default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aurora_pipelines.errors import SpecError
from aurora_pipelines.recommend.rules import Recommendation
from aurora_pipelines.specs import ExperimentSpec
from aurora_pipelines.training.hpo import HpoConfig

IN_PROCESS_FAMILIES = ("sklearn", "torch", "lightgbm", "xgboost")


@dataclass
class TrainingPlan:
    algorithms: list[str]
    primary_metric: str
    cv_folds: int
    validation: str
    class_weight: bool | str  # True: forced balanced; "search": tuned (default none)
    holdout_fraction: float
    calibration: str
    threshold: float | None
    search_spaces: dict[str, dict[str, dict[str, Any]]]
    hpo: HpoConfig
    seed: int
    family: str = "sklearn"
    mode: str = "tuned"
    ensemble_top_k: int = 3
    # field -> "spec" or "recommended": where each decision came from
    sources: dict[str, str] = field(default_factory=dict)

    def train_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `train_experiment` (besides the data and column roles)."""
        return {
            "algorithms": self.algorithms,
            "primary_metric": self.primary_metric,
            "cv_folds": self.cv_folds,
            "validation": self.validation,
            "class_weight": self.class_weight,
            "holdout_fraction": self.holdout_fraction,
            "calibration": self.calibration,
            "threshold": self.threshold,
            "search_spaces": self.search_spaces,
            "hpo": self.hpo,
            "seed": self.seed,
            "mode": self.mode,
            "ensemble_top_k": self.ensemble_top_k,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_plan(
    spec: ExperimentSpec,
    recommendation: Recommendation | None,
    *,
    optuna_storage: str | None = None,
) -> TrainingPlan:
    """Merge the spec's training section with `recommendation` (None: spec defaults only)."""
    training = spec.training
    pinned = training.model_fields_set
    sources: dict[str, str] = {}

    def pick(name: str, from_spec: Any, recommended: Any) -> Any:
        if name in pinned or recommendation is None:
            sources[name] = "spec"
            return from_spec
        sources[name] = "recommended"
        return recommended

    suggested = []
    if recommendation is not None:
        # The top-ranked family decides where training runs: Spark MLlib when the table is
        # too big for one process (see rules.SINGLE_NODE_MAX_ROWS), in process otherwise.
        on_spark = bool(recommendation.algorithms) and (
            recommendation.algorithms[0].family == "spark"
        )
        suggested = [
            s.algorithm
            for s in recommendation.algorithms
            if (s.family == "spark") == on_spark and (on_spark or s.family in IN_PROCESS_FAMILIES)
        ][: training.max_algorithms]
    algorithms = pick("algorithms", list(training.algorithms), suggested)
    family = _family(algorithms)
    metric = pick(
        "primary_metric",
        training.primary_metric,
        recommendation.primary_metric if recommendation else None,
    )
    if family == "spark" and sources["primary_metric"] == "recommended":
        from aurora_pipelines.training.spark_ml import SPARK_METRICS

        available = SPARK_METRICS[spec.problem_type.value]
        if metric not in available:
            # Spark evaluators cover fewer metrics; the first is the family's default.
            metric = next(iter(available))
    folds = pick("cv_folds", training.cv_folds, recommendation.cv_folds if recommendation else 0)
    if training.validation != "auto":
        validation = training.validation
        sources["validation"] = "spec"
    elif recommendation is not None:
        validation = recommendation.validation
        sources["validation"] = "recommended"
    else:
        validation = "time" if spec.time_column else "kfold"
        sources["validation"] = "spec"
    if training.class_weight != "auto":
        class_weight = training.class_weight == "balanced"
        sources["class_weight"] = "spec"
    else:
        # Recommended weights are a tuned choice, never forced: forced balanced weights lost
        # to plain defaults on a rare-positive table (see trainer.CLASS_WEIGHT_CHOICE).
        class_weight = "search" if recommendation and recommendation.class_weight else False
        sources["class_weight"] = "recommended"
    return TrainingPlan(
        algorithms=algorithms,
        primary_metric=metric,
        cv_folds=folds,
        validation=validation,
        class_weight=class_weight,
        holdout_fraction=training.holdout_fraction,
        calibration=training.calibration,
        threshold=training.decision_threshold,
        search_spaces=dict(training.search_spaces),
        hpo=HpoConfig(
            n_trials=training.hpo.n_trials,
            timeout_seconds=training.hpo.timeout_seconds,
            pruning=training.hpo.pruning,
            storage=optuna_storage,
            study_prefix=spec.name,
        ),
        seed=training.seed,
        family=family,
        mode=training.mode,
        ensemble_top_k=training.ensemble_top_k,
        sources=sources,
    )


def _family(algorithms: list[str]) -> str:
    """'spark' when every algorithm is Spark MLlib, 'sklearn' (in process) when none is."""
    from aurora_pipelines.training.algorithms import ALGORITHMS

    # Unknown names are left to the trainer, whose error lists the valid ones.
    known = [ALGORITHMS[name] for name in algorithms if name in ALGORITHMS]
    families = {spec.family == "spark" for spec in known}
    if families == {True, False}:
        raise SpecError(
            f"training.algorithms mixes Spark MLlib and in-process algorithms "
            f"({', '.join(algorithms)}); list only spark_* algorithms or none of them"
        )
    return "spark" if families == {True} else "sklearn"


def optuna_storage_url(home: Path) -> str:
    """Where Optuna studies persist: one SQLite file under AURORA_HOME."""
    return f"sqlite:///{home / 'optuna' / 'studies.db'}"
