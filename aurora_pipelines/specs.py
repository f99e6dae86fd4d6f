"""Experiment specs: the user-facing contract (experiments/<name>.yaml), validated by pydantic.

An experiment is data, not code: adding a YAML file adds an asset group on the next
code-location load.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aurora_pipelines.errors import SpecError
from aurora_pipelines.lifecycle import SHARED_DATA_STAGES
from aurora_pipelines.workspace.questionnaire import Questionnaire

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


class ProblemType(StrEnum):
    classification = "classification"
    regression = "regression"
    clustering = "clustering"
    dimensionality_reduction = "dimensionality_reduction"
    anomaly_detection = "anomaly_detection"


SUPERVISED = (ProblemType.classification, ProblemType.regression)
# Tasks that take no target: a target there would be silently ignored, so it is refused.
TARGETLESS = (ProblemType.clustering, ProblemType.dimensionality_reduction)


class _Strict(BaseModel):
    # Unknown fields are an error: a typo in a spec must not be silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(_Strict):
    """How to read a CSV file (Spark's CSV reader options)."""

    delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "UTF-8"
    header: bool = True


class SourceSpec(_Strict):
    """Where the governed data comes from: a catalog table, a CSV/Parquet/Delta path, a JDBC
    table, a read-only SQL query over catalog tables, or a saved query with its parameters."""

    kind: Literal["table", "csv", "parquet", "delta", "jdbc", "query", "saved_query"] = "table"
    table: str | None = Field(
        default=None, description="Catalog table `database.table`, or the JDBC table."
    )
    path: str | None = Field(default=None, description="File or Delta directory.")
    csv: CsvOptions | None = Field(default=None, description="CSV reader options.")
    url: str | None = Field(
        default=None, description="JDBC URL without credentials, e.g. jdbc:postgresql://h:5432/db"
    )
    user: str | None = Field(default=None, description="JDBC user.")
    password_env: str | None = Field(
        default=None, description="Environment variable holding the JDBC password."
    )
    sql: str | None = Field(default=None, description="One read-only SELECT (kind: query).")
    name: str | None = Field(
        default=None, description="Saved query name (kind: saved_query; `aurora queries list`)."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Saved query parameter values (kind: saved_query)."
    )

    @model_validator(mode="after")
    def _one_location(self) -> SourceSpec:
        if self.kind == "table" and not self.table:
            raise ValueError("a `table` source needs `table: database.table`")
        if self.kind == "jdbc" and not (self.url and self.table):
            raise ValueError("a `jdbc` source needs `url:` and `table:`")
        if self.kind == "query" and not self.sql:
            raise ValueError("a `query` source needs `sql:` (one SELECT statement)")
        if self.kind in ("csv", "parquet", "delta") and not self.path:
            raise ValueError(f"a `{self.kind}` source needs `path:`")
        if self.kind == "saved_query" and not self.name:
            raise ValueError("a `saved_query` source needs `name:` (see `aurora queries list`)")
        if self.params and self.kind != "saved_query":
            raise ValueError("`params:` apply only to a `saved_query` source")
        if self.csv is not None and self.kind != "csv":
            raise ValueError("`csv:` options apply only to a `csv` source")
        return self

    @property
    def display(self) -> str:
        if self.kind == "table":
            return self.table or ""
        if self.kind == "jdbc":
            return f"jdbc:{self.table}@{self.url}"
        if self.kind == "query":
            text = " ".join((self.sql or "").split())
            return "query:" + (text if len(text) <= 60 else text[:57] + "...")
        if self.kind == "saved_query":
            return f"saved_query:{self.name}"
        return f"{self.kind}:{self.path}"


class SamplingSpec(_Strict):
    """How the profile's sample is drawn (see profiling/sampling.py)."""

    method: Literal["random", "stratified", "systematic"] = "random"
    rows: int | None = Field(default=None, gt=0, description="Sample size in rows.")
    fraction: float | None = Field(default=None, gt=0, le=1, description="Or a share of rows.")
    stratify_by: str | None = Field(default=None, description="Stratum column (default: target).")
    min_per_stratum: int = Field(default=50, ge=1)
    order_by: str | None = Field(default=None, description="Systematic: ordering column.")
    margin_of_error: float = Field(default=0.01, gt=0, lt=0.5, description="Size rule.")
    confidence: float = Field(default=0.99, gt=0.5, lt=1, description="Size rule.")

    @model_validator(mode="after")
    def _one_size(self) -> SamplingSpec:
        if self.rows is not None and self.fraction is not None:
            raise ValueError("give `rows` or `fraction`, not both")
        return self


class ProfilingSpec(_Strict):
    sample_rows: int | None = Field(
        default=None, gt=0, description="Shorthand for sampling.rows (random sample)."
    )
    sampling: SamplingSpec = SamplingSpec()
    seed: int = 42
    quality_min: float = Field(default=80.0, ge=0, le=100)

    @property
    def sampling_plan(self) -> SamplingSpec:
        """`sampling`, with `sample_rows` as its size when only the shorthand is given."""
        if self.sample_rows is None or self.sampling.rows or self.sampling.fraction:
            return self.sampling
        return self.sampling.model_copy(update={"rows": self.sample_rows})


class FeaturesSpec(_Strict):
    """The dbt models that build this experiment's feature set from its raw table."""

    dbt_model: str = Field(description="dbt model building the training feature table.")
    scoring_dbt_model: str | None = Field(
        default=None, description="dbt model building features for the scoring batch."
    )


class HpoSpec(_Strict):
    """Optuna budget per training run; `n_trials: 0` turns tuning off."""

    n_trials: int = Field(default=8, ge=0, le=10_000, description="Trials per algorithm.")
    timeout_seconds: float | None = Field(
        default=30, gt=0, description="Wall-clock budget of the whole search."
    )
    pruning: bool = True


class TrainingSpec(_Strict):
    """Training settings. A field left out is taken from train/recommendations (fields that
    have a recommendation: algorithms, primary_metric, cv_folds, validation, class_weight)."""

    algorithms: list[str] = Field(
        default_factory=lambda: ["logistic_regression", "hist_gradient_boosting"], min_length=1
    )
    cv_folds: int = Field(default=5, ge=2, le=20)
    seed: int = 42
    primary_metric: str = "roc_auc"
    metric_min: float | None = Field(
        default=None,
        description="Bar of train/model in the units of the metric trained on (a maximum for "
        "rmse/mae/log_loss). Unset: the dummy baseline of that metric on this data plus a "
        "margin the CV spread supports (training/metric_bound.py).",
    )
    max_train_rows: int | None = Field(
        default=None,
        gt=0,
        description="Train on at most this many rows: those with the smallest seeded hash of "
        "`id_column` (the same rows in process and on Spark; needs `id_column`).",
    )
    max_algorithms: int = Field(
        default=3, ge=1, le=10, description="How many recommended algorithms to train."
    )
    validation: Literal["auto", "kfold", "time"] = "auto"
    holdout_fraction: float = Field(default=0.2, ge=0, lt=0.5)
    class_weight: Literal["auto", "balanced", "none"] = "auto"
    calibration: Literal["auto", "none", "sigmoid", "isotonic"] = "auto"
    decision_threshold: float | None = Field(default=None, gt=0, lt=1)
    search_spaces: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, description="Per algorithm: parameter -> Optuna range."
    )
    hpo: HpoSpec = HpoSpec()
    mode: Literal["base", "tuned"] = Field(
        default="tuned",
        description="base: every algorithm with its defaults only (fast); tuned: Optuna "
        "search per algorithm (`hpo`), defaults first. The leaderboard shows both.",
    )
    ensemble_top_k: int = Field(
        default=3,
        ge=0,
        le=5,
        description="Soft-vote the top k algorithms; chosen only when it beats the best "
        "single model by more than the CV noise. 0 or 1: no ensemble.",
    )


class UnsupervisedSpec(_Strict):
    """Settings of the unsupervised tasks (clustering, dimensionality_reduction,
    anomaly_detection); ignored by classification and regression."""

    algorithms: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Candidates (default: recommended). Clustering: kmeans, "
        "mini_batch_kmeans, gaussian_mixture, agglomerative, birch, dbscan, hdbscan; "
        "dimensionality_reduction: pca, truncated_svd; anomaly_detection: isolation_forest, "
        "local_outlier_factor, one_class_svm.",
    )
    k: int | None = Field(default=None, ge=2, description="Fixed cluster count (no search).")
    k_min: int = Field(default=2, ge=2, description="Smallest k the search tries.")
    k_max: int = Field(default=10, ge=2, le=200, description="Largest k the search tries.")
    search_rows: int = Field(
        default=5000, ge=100, description="Seeded sample the k search and model choice use."
    )
    variance_target: float = Field(
        default=0.9, gt=0, le=1, description="Share of variance the kept components explain."
    )
    max_components: int | None = Field(default=None, ge=1)
    contamination: float | Literal["auto"] = Field(
        default="auto", description="Expected anomaly share in (0, 0.5], or auto (estimated)."
    )
    label_column: str | None = Field(
        default=None,
        description="anomaly_detection: a known 0/1 anomaly label, used only to score the "
        "detector (average precision), never to fit it.",
    )
    exclude_columns: list[str] = Field(
        default_factory=list,
        description="Feature-table columns that are not inputs (a multi-task experiment's "
        "target is excluded from its unsupervised tasks by itself).",
    )

    @field_validator("contamination")
    @classmethod
    def _share(cls, value: float | str) -> float | str:
        if isinstance(value, float | int) and not 0 < value <= 0.5:
            raise ValueError("must be a share in (0, 0.5] or `auto`")
        return value

    @model_validator(mode="after")
    def _k_range(self) -> UnsupervisedSpec:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min {self.k_min} is above k_max {self.k_max}; swap them")
        return self


class ScoringSpec(_Strict):
    """The batch that production scores (and whose drift is monitored)."""

    source: SourceSpec | None = None
    time_column: str | None = Field(
        default=None,
        description="Column of the scoring batch whose UTC day puts a row in that day's "
        "partition of serve/batch_scores; unset: each daily partition scores the whole "
        "current batch (a snapshot, recorded with its Delta version).",
    )


class FeatureThresholds(_Strict):
    """PSI thresholds of one feature (defaults: the monitoring section's)."""

    psi_warn: float | None = Field(default=None, gt=0)
    psi_error: float | None = Field(default=None, gt=0)


class MonitoringSpec(_Strict):
    drift_share_max: float = Field(
        default=0.3, ge=0, le=1, description="Drift share above this is an ERROR (retrain)."
    )
    drift_share_warn: float = Field(default=0.15, ge=0, le=1)
    psi_threshold: float = Field(default=0.2, gt=0, description="PSI ERROR level per feature.")
    psi_warn: float = Field(default=0.1, gt=0)
    features: dict[str, FeatureThresholds] = Field(
        default_factory=dict, description="Per-feature PSI thresholds overriding the defaults."
    )
    retrain_cooldown_hours: float = Field(default=24, ge=0)
    min_new_rows: int = Field(
        default=1000, ge=0, description="Rows a window must have before it can ask to retrain."
    )
    performance_tolerance: float = Field(
        default=0.05, ge=0, description="Largest drop of the primary metric vs training."
    )
    labels: SourceSpec | None = Field(
        default=None, description="Labels arriving later: a table with the id and the target."
    )
    webhook_url: str | None = Field(default=None, description="POSTed a JSON body per alert.")
    min_improvement: float = Field(
        default=0.0,
        ge=0,
        description="Champion comparison: a retrained candidate is called better than the "
        "champion only when the lower bound of the 95% interval of its improvement on the "
        "primary metric (in the metric's units, positive = better) exceeds this.",
    )

    def psi_levels(self, column: str) -> tuple[float, float]:
        """(warn, error) PSI thresholds of a feature."""
        own = self.features.get(column, FeatureThresholds())
        return (
            own.psi_warn if own.psi_warn is not None else self.psi_warn,
            own.psi_error if own.psi_error is not None else self.psi_threshold,
        )


Materiality = Literal["low", "medium", "high"]
DecisionAutomation = Literal["advisory", "human_review", "automated"]
RegulatoryUse = Literal[
    "credit_decision",
    "insurance_pricing",
    "employment",
    "capital_requirements",
    "anti_money_laundering",
    "other_regulated",
]


class RiskSpec(_Strict):
    """The risk questionnaire: the governance policy's `tier_rule` maps these answers to a
    risk tier, and the tier to its gate chain and compliance requirements. Every answer is
    required: a half-answered questionnaire must not fall into a lighter tier."""

    materiality: Materiality = Field(
        description="Impact of a wrong output (money, customers, reputation): low|medium|high."
    )
    decision_automation: DecisionAutomation = Field(
        description="advisory: a person decides, the model informs; human_review: the model "
        "decides, a person reviews each outcome; automated: nobody reviews the outcome."
    )
    personal_data: bool = Field(description="Does the model use data about natural persons?")
    regulatory_use: list[RegulatoryUse] = Field(
        description="Regulated uses ([] for none), e.g. [credit_decision] (EU AI Act high-risk)."
    )

    @field_validator("regulatory_use", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        # `regulatory_use: credit_decision` reads as the one-element list.
        return [value] if isinstance(value, str) else value


class GovernanceSpec(_Strict):
    """What the model card states for model risk review, and the risk questionnaire that
    decides the experiment's risk tier (all optional; no `risk` section: the policy's
    `tier_rule.unassessed` tier)."""

    sensitive_attribute: str | None = Field(
        default=None,
        description="Column to slice metrics by (e.g. region); the card reports a disparity ratio.",
    )
    intended_use: str = ""
    limitations: list[str] = Field(default_factory=list)
    risk: RiskSpec | None = Field(
        default=None, description="Risk questionnaire answers (decide the risk tier)."
    )


class CanarySpec(_Strict):
    """How the canary controller steps a challenger up, and what makes it roll back."""

    steps: list[float] = Field(
        default_factory=lambda: [0.1, 0.25, 0.5, 1.0],
        min_length=1,
        description="Challenger traffic shares, increasing; reaching 1.0 promotes it.",
    )
    min_requests: int = Field(
        default=200, ge=1, description="Challenger answers per step before it is judged."
    )
    window_minutes: float = Field(
        default=60, gt=0, description="Champion answers this recent are the comparison baseline."
    )
    max_error_rate_increase: float = Field(
        default=0.01, ge=0, le=1, description="Challenger error rate minus champion's, at most."
    )
    max_p99_latency_ratio: float = Field(
        default=1.5, gt=0, description="Challenger p99 latency / champion p99, at most."
    )
    max_score_psi: float = Field(
        default=0.25, gt=0, description="PSI of challenger scores vs champion scores, at most."
    )
    max_accuracy_drop: float = Field(
        default=0.02, ge=0, le=1, description="Where labels exist: champion minus challenger."
    )
    min_labeled: int = Field(default=50, ge=1, description="Labeled answers per arm to compare.")

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[float]) -> list[float]:
        if any(not 0 < s <= 1 for s in steps) or steps != sorted(set(steps)):
            raise ValueError("must be strictly increasing shares in (0, 1], e.g. [0.1, 0.5, 1.0]")
        if steps[-1] != 1.0:
            raise ValueError("must end with 1.0 (the step at which the challenger is promoted)")
        return steps


class DeploymentSpec(_Strict):
    """How a production-approved version reaches traffic, and what UAT scores before that."""

    strategy: Literal["blue_green", "canary", "shadow"] = Field(
        default="blue_green",
        description="blue_green: all traffic at once; canary: challenger at canary.steps[0], "
        "stepped up by the canary sensor; shadow: scores live traffic, answers nobody.",
    )
    canary: CanarySpec = CanarySpec()
    uat_source: SourceSpec | None = Field(
        default=None,
        description="UAT set (feature columns + target); default: a hold-out of the features.",
    )
    uat_fraction: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Default UAT hold-out size (default: training.holdout_fraction, else 0.2).",
    )


class OriginSpec(_Strict):
    """Where a cloned experiment came from (`aurora experiments clone` / `--template`)."""

    kind: Literal["clone", "template"]
    name: str
    version: int | None = Field(default=None, description="Source spec version cloned.")
    content_hash: str | None = None


class ArchiveSpec(_Strict):
    """An archived experiment: no schedules or automation; everything stays readable."""

    by: str
    at: str
    reason: str = ""


class ExperimentSpec(_Strict):
    name: str
    description: str = ""
    tags: list[str] = Field(default_factory=list, description="Search keywords.")
    questionnaire: Questionnaire | None = Field(
        default=None, description="Answers about the model's objective (experiments create)."
    )
    origin: OriginSpec | None = None
    archived: ArchiveSpec | None = None
    team: str
    owner: str
    source: SourceSpec
    target: str | None = None
    problem_type: ProblemType = ProblemType.classification
    tasks: list[ProblemType] | None = Field(
        default=None,
        min_length=1,
        description="Several tasks in one experiment, e.g. [classification, clustering]: the "
        "first is `problem_type` under the experiment's name, each other one its own asset "
        "group and registered model `<name>_<task>`.",
    )
    id_column: str | None = None
    time_column: str | None = None
    features: FeaturesSpec
    profiling: ProfilingSpec = ProfilingSpec()
    training: TrainingSpec = TrainingSpec()
    scoring: ScoringSpec = ScoringSpec()
    monitoring: MonitoringSpec = MonitoringSpec()
    governance: GovernanceSpec = GovernanceSpec()
    deployment: DeploymentSpec = DeploymentSpec()
    unsupervised: UnsupervisedSpec = UnsupervisedSpec()
    parent: str | None = Field(
        default=None,
        description="Set by `task_specs()` on a further task of a multi-task experiment: the "
        "experiment whose raw, profile and feature tables the task reads (never in a file).",
    )

    @model_validator(mode="before")
    @classmethod
    def _first_task(cls, data: Any) -> Any:
        # `tasks:` alone names the primary task; `problem_type` then defaults to its first.
        # Only a non-empty list: any other `tasks:` is left to the field's own validation error.
        tasks = data.get("tasks") if isinstance(data, dict) else None
        if isinstance(tasks, list) and tasks and "problem_type" not in data:
            data = {**data, "problem_type": tasks[0]}
        return data

    @model_validator(mode="after")
    def _target_fits_task(self) -> ExperimentSpec:
        kind = self.problem_type
        if kind in SUPERVISED and not self.target:
            raise ValueError(
                f"missing required field `target` (the column a {kind.value} experiment "
                "predicts); for data without a target use problem_type clustering, "
                "dimensionality_reduction or anomaly_detection"
            )
        if kind in TARGETLESS and self.target:
            raise ValueError(
                f"a {kind.value} experiment takes no target, but `target: {self.target}` is "
                "set; remove it (or put it in `tasks:` beside a classification/regression task)"
            )
        if kind == ProblemType.anomaly_detection and self.target:
            raise ValueError(
                "an anomaly_detection experiment is fitted without labels; name a known "
                f"anomaly label as `unsupervised.label_column: {self.target}` instead of "
                "`target` (it is used only to score the detector)"
            )
        if self.tasks:
            if self.tasks[0] != kind:
                raise ValueError(
                    f"`tasks` starts with {self.tasks[0].value} but problem_type is "
                    f"{kind.value}; the first task is the experiment's own problem_type"
                )
            if len(set(self.tasks)) != len(self.tasks):
                raise ValueError("`tasks` lists a task twice; list each task once")
            extra = [t for t in self.tasks[1:] if t in SUPERVISED]
            if extra:
                raise ValueError(
                    f"only the first task may be supervised ({extra[0].value} is not first); "
                    "one experiment has one target"
                )
        return self

    @property
    def is_unsupervised(self) -> bool:
        return self.problem_type not in SUPERVISED

    def task_specs(self) -> list[ExperimentSpec]:
        """One spec per task: this one, then `<name>_<task>` for each further task (its own
        asset group and registered model; the target stays out of an unsupervised task)."""
        specs = [self]
        for task in (self.tasks or [])[1:]:
            unsupervised = self.unsupervised
            if (
                task == ProblemType.anomaly_detection
                and self.target
                and not (unsupervised.label_column)
            ):
                # A classification label doubles as the detector's evaluation label.
                unsupervised = unsupervised.model_copy(update={"label_column": self.target})
            if self.target and self.target not in unsupervised.exclude_columns:
                # The parent's features hold its target: never an input of an unsupervised task.
                unsupervised = unsupervised.model_copy(
                    update={"exclude_columns": [*unsupervised.exclude_columns, self.target]}
                )
            data = self.model_dump(exclude={"tasks", "unsupervised"}, exclude_unset=True)
            data.update(
                name=f"{self.name}_{task.value}",
                problem_type=task.value,
                target=None,
                unsupervised=unsupervised.model_dump(exclude_unset=True),
                parent=self.name,
            )
            specs.append(ExperimentSpec.model_validate(data))
        return specs

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(
                "must be lower_snake_case (letters, digits, underscores; starts with a letter)"
            )
        return value

    @property
    def scoring_source(self) -> SourceSpec:
        return self.scoring.source or self.source

    @property
    def data_owner(self) -> str:
        """The experiment whose data stages (raw, profile, features) this spec reads: its
        parent for a further task of a multi-task experiment, else itself."""
        return self.parent or self.name

    def key(self, *parts: str) -> list[str]:
        """Asset key path for a lifecycle stage of this experiment; a task's shared data
        stages are its parent's (ingested and featurised once, for every task)."""
        if self.parent and tuple(parts) in SHARED_DATA_STAGES:
            return [self.parent, *parts]
        return [self.name, *parts]


def _format_validation_error(path: Path, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown field `{where}` (remove it or fix its spelling)")
        elif err["type"] == "missing":
            problems.append(f"missing required field `{where}` (add it)")
        elif err["type"] == "literal_error":
            problems.append(f"`{where}`: {err['msg']}, not {err['input']!r}")
        else:
            # Pydantic's message says what the value must be; the fix is to change it.
            problems.append(f"`{where}`: {err['msg']} (fix the value)")
    return f"experiment spec {path}: " + "; ".join(problems)


def load_spec(path: Path) -> ExperimentSpec:
    """Read and validate one spec file; SpecError names each bad field."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise SpecError(f"experiment spec {path} does not exist") from exc
    except yaml.YAMLError as exc:
        # PyYAML's message spans lines (with a caret under the fault): one line for the CLI.
        where = " ".join(str(exc).split())
        raise SpecError(
            f"experiment spec {path} is not valid YAML: {where}; fix the line it names"
        ) from exc
    if not isinstance(raw, dict):
        raise SpecError(f"experiment spec {path} must be a YAML mapping of fields")
    if "parent" in raw:
        raise SpecError(
            f"experiment spec {path}: `parent` is set by `tasks:` of the parent experiment, "
            "never in a file; remove it (list the task in the parent's `tasks:`)"
        )
    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_format_validation_error(path, exc)) from None
    if spec.name != path.stem:
        raise SpecError(
            f"experiment spec {path}: name `{spec.name}` differs from the file name; "
            f"rename the file to {spec.name}.yaml or fix `name`"
        )
    return spec


def load_specs(directory: Path) -> list[ExperimentSpec]:
    """All specs in a directory, sorted by name."""
    if not directory.is_dir():
        return []
    return [load_spec(p) for p in sorted(directory.glob("*.yaml"))]


def find_spec(directory: Path, name: str) -> ExperimentSpec:
    path = directory / f"{name}.yaml"
    if not path.exists() and (task := _task_of(directory, name)) is not None:
        return task
    if not path.exists():
        known = ", ".join(s.stem for s in sorted(directory.glob("*.yaml"))) or "none"
        raise SpecError(
            f"no experiment named '{name}' in {directory} (known: {known}); "
            f"create it with `aurora experiments create {name} --source ... --target ...`"
        )
    return load_spec(path)


def _task_of(directory: Path, name: str) -> ExperimentSpec | None:
    """The further task `<experiment>_<task>` of a multi-task spec, if `name` is one."""
    for kind in ProblemType:
        suffix = f"_{kind.value}"
        parent = directory / f"{name.removesuffix(suffix)}.yaml"
        if name.endswith(suffix) and parent.exists():
            for task in load_spec(parent).task_specs()[1:]:
                if task.name == name:
                    return task
    return None


def write_spec(directory: Path, spec: ExperimentSpec) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{spec.name}.yaml"
    data = spec.model_dump(mode="json", exclude_defaults=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
