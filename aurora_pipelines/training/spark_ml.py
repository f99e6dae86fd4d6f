"""Spark MLlib family: pyspark.ml Pipelines trained where the data lives, never collected.

For tables too big for one process (see recommend.rules.SINGLE_NODE_MAX_ROWS). Same
vocabulary as the in-process trainer — algorithms from the registry (family `spark`),
metrics with a direction, a leaderboard, a seeded final holdout — but selection is by the
holdout metric of each algorithm's default configuration: k-fold CV or tuning would
multiply full passes over a table that takes minutes per pass. Preprocessing lives inside
the Pipeline (median imputation, string indexing with unseen levels kept, one-hot for
linear models, scaling), so scoring reuses exactly what training fitted.

Models are saved with `PipelineModel.save` (Spark's own format: JSON metadata + Parquet
weights, no pickle); `save_spark_model` / `load_spark_model` are the registry's hooks.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aurora_pipelines.errors import DataError, SpecError
from aurora_pipelines.training.algorithms import AlgorithmSpec, get_algorithm, register_algorithm

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.sql import DataFrame

LABEL, FEATURES = "_aurora_label", "_aurora_features"
SPARK_METRICS = {
    "classification": {
        "roc_auc": ("areaUnderROC", True),
        "average_precision": ("areaUnderPR", True),
    },
    "regression": {"rmse": ("rmse", False), "mae": ("mae", False), "r2": ("r2", True)},
}


def _mllib(path: str, *, seeded: bool = True, **params: Any) -> Callable[[int], Any]:
    """A factory of the pyspark.ml estimator at `path` (e.g. "classification.GBTClassifier")
    with `params` (and the seed, when `seeded`). pyspark is imported on call, so registering
    costs nothing at import time."""
    module, name = path.rsplit(".", 1)

    def make(seed: int) -> Any:
        estimator = getattr(importlib.import_module(f"pyspark.ml.{module}"), name)
        return estimator(**params, **({"seed": seed} if seeded else {}))

    return make


def _register() -> None:
    lr = _mllib("classification.LogisticRegression", seeded=False, maxIter=100, regParam=0.0)
    linreg = _mllib("regression.LinearRegression", seeded=False, maxIter=100, regParam=0.0)
    rf_c = _mllib("classification.RandomForestClassifier", numTrees=50, maxDepth=8)
    rf_r = _mllib("regression.RandomForestRegressor", numTrees=50, maxDepth=8)
    gbt_c = _mllib("classification.GBTClassifier", maxIter=50, maxDepth=5)
    gbt_r = _mllib("regression.GBTRegressor", maxIter=50, maxDepth=5)

    for spec in (
        AlgorithmSpec(
            "spark_logistic_regression",
            {"classification": lr},
            library="spark",
            scale_numeric=True,
            description="Spark MLlib logistic regression: distributed linear baseline.",
            tags=("linear", "interpretable"),
        ),
        AlgorithmSpec(
            "spark_linear_regression",
            {"regression": linreg},
            library="spark",
            scale_numeric=True,
            description="Spark MLlib linear regression: distributed linear baseline.",
            tags=("linear", "interpretable"),
        ),
        AlgorithmSpec(
            "spark_random_forest",
            {"classification": rf_c, "regression": rf_r},
            library="spark",
            description="Spark MLlib random forest: bagged trees over the whole table.",
            tags=("trees", "bagging"),
        ),
        AlgorithmSpec(
            "spark_gbt",
            {"classification": gbt_c, "regression": gbt_r},
            library="spark",
            description="Spark MLlib gradient-boosted trees: the strongest MLlib learner "
            "on tabular data (binary classification or regression).",
            tags=("trees", "boosting"),
        ),
    ):
        register_algorithm(spec)


_register()


@dataclass
class SparkTrainingResult:
    problem_type: str
    target: str
    primary_metric: str
    best_algorithm: str
    model: PipelineModel
    feature_columns: list[str]
    metrics: dict[str, float]  # the best model's holdout metrics
    leaderboard: list[dict[str, Any]]
    n_train_rows: int
    n_holdout_rows: int
    seed: int
    fit_seconds: dict[str, float] = field(default_factory=dict)
    family: str = "spark"


def _feature_columns(df: DataFrame, skip: set[str]) -> tuple[list[str], list[str]]:
    from pyspark.sql.types import BooleanType, DateType, NumericType, StringType, TimestampType

    numeric, categorical = [], []
    for f in df.schema.fields:
        if f.name in skip or isinstance(f.dataType, DateType | TimestampType):
            continue
        if isinstance(f.dataType, NumericType | BooleanType):
            numeric.append(f.name)
        elif isinstance(f.dataType, StringType):
            categorical.append(f.name)
    return numeric, categorical


def build_spark_pipeline(
    spec: AlgorithmSpec,
    problem_type: str,
    numeric: list[str],
    categorical: list[str],
    seed: int,
    params: dict[str, Any] | None = None,
) -> Any:
    """Impute + index (+ one-hot/scale for linear models) + assemble + estimator."""
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import (
        Imputer,
        OneHotEncoder,
        SQLTransformer,
        StandardScaler,
        StringIndexer,
        VectorAssembler,
    )

    stages: list[Any] = []
    imputed = [f"_num_{c}" for c in numeric]
    if numeric:
        # Booleans and integers as doubles, inside the pipeline so scoring casts the same way.
        casts = ", ".join(f"CAST(`{c}` AS DOUBLE) AS `_dbl_{c}`" for c in numeric)
        stages.append(SQLTransformer(statement=f"SELECT *, {casts} FROM __THIS__"))
        stages.append(
            Imputer(inputCols=[f"_dbl_{c}" for c in numeric], outputCols=imputed, strategy="median")
        )
    indexed = [f"_idx_{c}" for c in categorical]
    if categorical:
        # Unseen and missing levels get their own index instead of failing at scoring time.
        stages.append(
            StringIndexer(inputCols=categorical, outputCols=indexed, handleInvalid="keep")
        )
    encoded = indexed
    if categorical and spec.scale_numeric:
        encoded = [f"_ohe_{c}" for c in categorical]
        stages.append(OneHotEncoder(inputCols=indexed, outputCols=encoded, handleInvalid="keep"))
    raw = "_assembled" if spec.scale_numeric else FEATURES
    stages.append(VectorAssembler(inputCols=imputed + encoded, outputCol=raw, handleInvalid="keep"))
    if spec.scale_numeric:
        stages.append(StandardScaler(inputCol=raw, outputCol=FEATURES))
    estimator = spec.estimator(problem_type, seed)
    estimator.setFeaturesCol(FEATURES).setLabelCol(LABEL)
    if params:
        estimator.setParams(**params)
    if categorical and not spec.scale_numeric and hasattr(estimator, "setMaxBins"):
        estimator.setMaxBins(64)  # enough bins for the indexed categorical levels
    stages.append(estimator)
    return Pipeline(stages=stages)


def _evaluate(predictions: DataFrame, problem_type: str) -> dict[str, float]:
    from pyspark.ml.evaluation import BinaryClassificationEvaluator, RegressionEvaluator

    scores = {}
    for name, (spark_name, _) in SPARK_METRICS[problem_type].items():
        if problem_type == "classification":
            evaluator = BinaryClassificationEvaluator(
                labelCol=LABEL, rawPredictionCol="rawPrediction", metricName=spark_name
            )
        else:
            evaluator = RegressionEvaluator(
                labelCol=LABEL, predictionCol="prediction", metricName=spark_name
            )
        scores[name] = float(evaluator.evaluate(predictions))
    return scores


def train_spark(
    df: DataFrame,
    *,
    target: str,
    problem_type: str,
    algorithms: list[str],
    primary_metric: str,
    seed: int,
    id_column: str | None = None,
    time_column: str | None = None,
    holdout_fraction: float = 0.2,
    params: dict[str, dict[str, Any]] | None = None,
) -> SparkTrainingResult:
    """Fit each Spark algorithm on the training split, pick the best on the holdout.

    `params` overrides estimator parameters per algorithm, e.g. {"spark_gbt": {"maxIter": 20}}.
    """
    from pyspark.sql import functions as F

    specs = [get_algorithm(name, problem_type) for name in dict.fromkeys(algorithms)]
    wrong = [s.name for s in specs if s.family != "spark"]
    if wrong:
        raise SpecError(
            f"{', '.join(wrong)} are not Spark MLlib algorithms; the Spark trainer takes "
            "spark_* algorithms only"
        )
    if primary_metric not in SPARK_METRICS[problem_type]:
        raise SpecError(
            f"metric '{primary_metric}' is not available on Spark for {problem_type} "
            f"(known: {', '.join(SPARK_METRICS[problem_type])}); fix `training.primary_metric`"
        )
    if target not in df.columns:
        raise DataError(f"target '{target}' is not a column of the training table")
    labelled = df.where(F.col(target).isNotNull())
    if problem_type == "classification":
        labels = [r[0] for r in labelled.select(target).distinct().limit(3).collect()]
        if len(labels) != 2:
            raise DataError(
                f"target '{target}' has {len(labels)} distinct value(s); Spark MLlib "
                "training here supports binary classification"
            )
        positive = max(labels)
        labelled = labelled.withColumn(LABEL, (F.col(target) == F.lit(positive)).cast("double"))
    else:
        labelled = labelled.withColumn(LABEL, F.col(target).cast("double"))
    numeric, categorical = _feature_columns(labelled, {target, LABEL, id_column, time_column})
    train, holdout = labelled.randomSplit([1 - holdout_fraction, holdout_fraction], seed=seed)
    train, holdout = train.cache(), holdout.cache()
    n_train, n_holdout = train.count(), holdout.count()
    if n_train < 10 or n_holdout < 2:
        raise DataError(f"only {n_train + n_holdout} labelled rows; Spark training needs more")

    direction = SPARK_METRICS[problem_type][primary_metric][1]
    board, models, seconds = [], {}, {}
    for spec in specs:
        pipeline = build_spark_pipeline(
            spec, problem_type, numeric, categorical, seed, (params or {}).get(spec.name)
        )
        started = time.perf_counter()
        model = pipeline.fit(train)
        seconds[spec.name] = time.perf_counter() - started
        scores = _evaluate(model.transform(holdout), problem_type)
        board.append({"algorithm": spec.name, "family": "spark", **scores})
        models[spec.name] = model
    board.sort(key=lambda row: -row[primary_metric] if direction else row[primary_metric])
    for rank, row in enumerate(board, start=1):
        row["rank"] = rank
    best = board[0]["algorithm"]
    train.unpersist()
    holdout.unpersist()
    return SparkTrainingResult(
        problem_type=problem_type,
        target=target,
        primary_metric=primary_metric,
        best_algorithm=best,
        model=models[best],
        feature_columns=numeric + categorical,
        metrics={k: v for k, v in board[0].items() if k not in ("algorithm", "family", "rank")},
        leaderboard=board,
        n_train_rows=n_train,
        n_holdout_rows=n_holdout,
        seed=seed,
        fit_seconds=seconds,
    )


def save_spark_model(model: PipelineModel, path: Path) -> Path:
    """Spark's own format (JSON metadata + Parquet data): no pickle, loadable anywhere."""
    model.write().overwrite().save(str(path))
    return path


def load_spark_model(path: Path) -> PipelineModel:
    from pyspark.ml import PipelineModel

    return PipelineModel.load(str(path))


def spark_vs_sklearn_seconds(rows: int, seed: int = 0) -> tuple[float, float]:
    """Fit time of logistic regression on `rows` rows: Spark MLlib vs scikit-learn (benchmark)."""
    import numpy as np
    from pyspark.ml.classification import LogisticRegression as SparkLR
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F
    from sklearn.linear_model import LogisticRegression

    from aurora_pipelines.lake.spark import get_spark
    from aurora_pipelines.settings import get_settings

    spark = get_spark(get_settings())
    n_features = 10
    # Same generative model on both sides: 10 normal features, logistic label.
    frame = spark.range(rows).select(*[F.randn(seed + i).alias(f"x{i}") for i in range(n_features)])
    logit = sum(F.col(f"x{i}") * (0.5 - i / n_features) for i in range(n_features))
    frame = frame.withColumn(LABEL, (F.rand(seed + 99) < 1 / (1 + F.exp(-logit))).cast("double"))
    assembled = VectorAssembler(
        inputCols=[f"x{i}" for i in range(n_features)], outputCol=FEATURES
    ).transform(frame)
    assembled = assembled.select(FEATURES, LABEL).cache()
    assembled.count()
    started = time.perf_counter()
    SparkLR(featuresCol=FEATURES, labelCol=LABEL, maxIter=50).fit(assembled)
    spark_seconds = time.perf_counter() - started
    assembled.unpersist()

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, n_features))
    logit_np = X @ (0.5 - np.arange(n_features) / n_features)
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit_np))).astype(int)
    started = time.perf_counter()
    LogisticRegression(max_iter=50).fit(X, y)
    return spark_seconds, time.perf_counter() - started
