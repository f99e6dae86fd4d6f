"""A/B comparison of the champion and the challenger on the same day's batch, on Spark.

Both versions scored the same rows (`batch.score_day`); the comparison joins them by entity id
and reports, per day:
- `score_psi`: PSI of the challenger's score distribution against the champion's, with the
  bucketing of `monitoring/psi.py` (champion deciles as right-closed edges, open outer buckets,
  empty shares raised to epsilon) but counted on the executors;
- `agreement_rate`: share of rows where both gave the same label (classification);
- `mean_score_diff`: mean of challenger score minus champion score;
- when the batch carries labels: accuracy and ROC AUC of each (classification) or RMSE.

A multiclass pair (scores whose `prediction` is a class key, serving/batch.py) also gets
`score_psi_<class>`: the PSI of each class's probability (`class_probabilities`); with labels,
each side's accuracy, macro F1 (`f1_macro`), log loss and one-vs-rest macro ROC AUC
(`roc_auc_ovr`, left out when a class has no labelled row), all aggregated on the executors.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from aurora_pipelines.deploy.routing import CHALLENGER, CHAMPION
from aurora_pipelines.monitoring.psi import DEFAULT_BINS, DEFAULT_EPSILON
from aurora_pipelines.results import MetadataDict
from aurora_pipelines.serving.batch import (
    CLASS_PROBABILITIES,
    LABEL_COLUMN,
    PARTITION_COLUMN,
    is_multiclass_scores,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# approxQuantile's relative error for the PSI edges: exact enough for deciles, one pass.
QUANTILE_ERROR = 1e-4
LOG_LOSS_EPSILON = 1e-15  # probabilities are clipped to [eps, 1 - eps], as sklearn does


@dataclass(frozen=True)
class AbComparison:
    day: str
    champion_version: str
    challenger_version: str
    rows: int
    score_psi: float
    agreement_rate: float | None  # None for regression (no labels to agree on)
    mean_score_diff: float
    champion_mean_score: float
    challenger_mean_score: float
    metrics: dict[str, float] = field(default_factory=dict)  # only when labels are present
    # Multiclass: PSI of each class's probability, challenger vs champion, by class key.
    class_score_psi: dict[str, float] = field(default_factory=dict)
    # Score distributions for the plot: bin edges and each role's counts (not in the table).
    histogram: ScoreHistogram | None = None

    def _columns(self) -> dict[str, float]:
        per_class = {f"score_psi_{k}": v for k, v in self.class_score_psi.items()}
        return {**per_class, **self.metrics}

    def to_frame(self) -> pd.DataFrame:
        """One row for the `serve/ab_comparison` Delta table (metrics as columns)."""
        skip = ("day", "metrics", "class_score_psi", "histogram")
        row = {k: v for k, v in asdict(self).items() if k not in skip}
        row.update(self._columns())
        row[PARTITION_COLUMN] = self.day
        return pd.DataFrame([row])

    def as_metadata(self) -> MetadataDict:
        skip = ("metrics", "class_score_psi", "histogram")
        data = {k: v for k, v in asdict(self).items() if k not in skip and v is not None}
        return {**data, **self._columns(), **self.views()}

    def views(self) -> MetadataDict:
        """Champion vs challenger side by side as a table, and their score distributions as
        an embedded PNG (plot_markdown, as the other assets' plots)."""
        from aurora_pipelines import plot_markdown as pm

        rows: list[tuple[str, object, object]] = [
            ("model version", self.champion_version, self.challenger_version),
            ("mean score", self.champion_mean_score, self.challenger_mean_score),
        ]
        prefix = f"{CHAMPION}_"
        for name, value in self.metrics.items():
            if name.startswith(prefix):
                other = self.metrics.get(f"{CHALLENGER}_{name[len(prefix) :]}")
                rows.append((name[len(prefix) :], value, "-" if other is None else other))
        views: MetadataDict = {
            "comparison": pm.table_markdown(["", CHAMPION, CHALLENGER], rows),
        }
        if self.histogram is not None:
            views["score_distributions"] = pm.image_markdown(
                "Score distributions, champion vs challenger",
                pm.histogram_chart(
                    f"scores on {self.day} ({self.rows} rows)",
                    self.histogram.edges,
                    {
                        f"{CHAMPION} v{self.champion_version}": self.histogram.champion,
                        f"{CHALLENGER} v{self.challenger_version}": self.histogram.challenger,
                    },
                    "score",
                ),
            )
        return views


@dataclass(frozen=True)
class ScoreHistogram:
    """Counts of each role's scores over the same equal-width bins (`edges`, bins + 1)."""

    edges: list[float]
    champion: list[int]
    challenger: list[int]


HISTOGRAM_BINS = 20


def score_histogram(joined: DataFrame, bins: int = HISTOGRAM_BINS) -> ScoreHistogram | None:
    """Both sides' score counts over equal-width bins spanning both, counted on the executors
    (the rows never come to the driver); None when there is no score."""
    from pyspark.sql import functions as F

    lo, hi = joined.agg(
        F.least(F.min("score_a"), F.min("score_b")), F.greatest(F.max("score_a"), F.max("score_b"))
    ).first()
    if lo is None or hi is None:
        return None
    lo, hi = float(lo), float(hi)
    width = (hi - lo) / bins if hi > lo else 1.0
    counts: dict[str, list[int]] = {"a": [0] * bins, "b": [0] * bins}
    for side in ("a", "b"):
        value = F.col(f"score_{side}")
        bucket = F.least(F.floor((value - F.lit(lo)) / F.lit(width)).cast("int"), F.lit(bins - 1))
        for row in joined.where(value.isNotNull()).groupBy(bucket.alias("b")).count().collect():
            counts[side][int(row["b"])] = int(row["count"])
    edges = [lo + i * width for i in range(bins + 1)]
    return ScoreHistogram(edges=edges, champion=counts["a"], challenger=counts["b"])


def compare_scores(
    scores: DataFrame, *, id_column: str, problem_type: str, bins: int = DEFAULT_BINS
) -> AbComparison | None:
    """Compare the champion's and challenger's rows of one day's scores; None without both."""
    from pyspark.sql import functions as F

    champion = scores.where(F.col("role") == CHAMPION)
    challenger = scores.where(F.col("role") == CHALLENGER)
    has_labels = LABEL_COLUMN in scores.columns
    multiclass = is_multiclass_scores(scores)
    probabilities = {
        side: [F.col(CLASS_PROBABILITIES).alias(f"probs_{side}")] if multiclass else []
        for side in ("a", "b")
    }
    a = champion.select(
        id_column,
        F.col("score").alias("score_a"),
        F.col("prediction").alias("prediction_a"),
        F.col("model_version").alias("version_a"),
        F.col(PARTITION_COLUMN),
        *probabilities["a"],
        *([F.col(LABEL_COLUMN)] if has_labels else []),
    )
    b = challenger.select(
        id_column,
        F.col("score").alias("score_b"),
        F.col("prediction").alias("prediction_b"),
        F.col("model_version").alias("version_b"),
        *probabilities["b"],
    )
    joined = a.join(b, on=id_column, how="inner")
    if multiclass:
        # Several passes follow (PSI and metrics per class): read the day's join once.
        joined = joined.cache()
    try:
        return _compare(joined, has_labels, multiclass, problem_type, bins)
    finally:
        if multiclass:
            joined.unpersist()


def _compare(
    joined: DataFrame, has_labels: bool, multiclass: bool, problem_type: str, bins: int
) -> AbComparison | None:
    from pyspark.sql import functions as F

    regression = problem_type == "regression"
    aggregates = [
        F.count(F.lit(1)).alias("rows"),
        F.first("version_a").alias("version_a"),
        F.first("version_b").alias("version_b"),
        F.first(PARTITION_COLUMN).alias("day"),
        F.avg(F.col("score_b") - F.col("score_a")).alias("mean_score_diff"),
        F.avg("score_a").alias("mean_a"),
        F.avg("score_b").alias("mean_b"),
        F.avg((F.col("prediction_a") == F.col("prediction_b")).cast("double")).alias("agree"),
    ]
    if has_labels:
        labelled = F.col(LABEL_COLUMN).isNotNull()
        if regression:
            for side in ("a", "b"):
                error = F.pow(F.col(f"score_{side}") - F.col(LABEL_COLUMN), 2)
                aggregates.append(F.avg(F.when(labelled, error)).alias(f"mse_{side}"))
        else:
            for side in ("a", "b"):
                hit = (F.col(f"prediction_{side}") == F.col(LABEL_COLUMN)).cast("double")
                aggregates.append(F.avg(F.when(labelled, hit)).alias(f"accuracy_{side}"))
    summary = joined.agg(*aggregates).collect()[0]
    if not summary["rows"]:
        return None
    keys = _class_keys(joined) if multiclass else []
    metrics: dict[str, float] = {}
    if has_labels:
        if regression:
            for side, role in (("a", CHAMPION), ("b", CHALLENGER)):
                if summary[f"mse_{side}"] is not None:
                    metrics[f"{role}_rmse"] = math.sqrt(summary[f"mse_{side}"])
        else:
            for side, role in (("a", CHAMPION), ("b", CHALLENGER)):
                if summary[f"accuracy_{side}"] is not None:
                    metrics[f"{role}_accuracy"] = float(summary[f"accuracy_{side}"])
            if multiclass:
                metrics.update(_multiclass_metrics(joined, keys))
            else:
                metrics.update(_roc_auc(joined))
    class_psi = {}
    for key in keys:
        per_class = joined.select(
            F.col("probs_a")[key].alias("score_a"), F.col("probs_b")[key].alias("score_b")
        )
        class_psi[key] = score_psi(per_class, bins=bins)
    return AbComparison(
        day=str(summary["day"]),
        champion_version=str(summary["version_a"]),
        challenger_version=str(summary["version_b"]),
        rows=int(summary["rows"]),
        score_psi=score_psi(joined, bins=bins),
        agreement_rate=None if regression else float(summary["agree"]),
        mean_score_diff=float(summary["mean_score_diff"]),
        champion_mean_score=float(summary["mean_a"]),
        challenger_mean_score=float(summary["mean_b"]),
        metrics=metrics,
        class_score_psi=class_psi,
        histogram=score_histogram(joined),
    )


def score_psi(
    joined: DataFrame, *, bins: int = DEFAULT_BINS, epsilon: float = DEFAULT_EPSILON
) -> float:
    """PSI of `score_b` (challenger) against `score_a` (champion), bucketed on the executors."""
    from pyspark.sql import functions as F

    edges = sorted(
        set(joined.approxQuantile("score_a", [i / bins for i in range(1, bins)], QUANTILE_ERROR))
    )
    # Right-closed buckets as in psi.py: x lands in bucket k = number of edges below x.
    bucket = sum((F.col("value") > F.lit(e)).cast("int") for e in edges) if edges else F.lit(0)
    stacked = joined.select(F.lit("a").alias("side"), F.col("score_a").alias("value")).unionByName(
        joined.select(F.lit("b").alias("side"), F.col("score_b").alias("value"))
    )
    counts = (
        stacked.where(F.col("value").isNotNull())
        .groupBy("side", bucket.alias("bucket"))
        .count()
        .collect()
    )
    table = pd.DataFrame([r.asDict() for r in counts], columns=["side", "bucket", "count"])
    shares = table.pivot_table(index="bucket", columns="side", values="count", fill_value=0)
    shares = shares.reindex(columns=["a", "b"], fill_value=0)
    shares = shares / shares.sum().replace(0, 1)
    r = shares["a"].clip(lower=epsilon)
    c = shares["b"].clip(lower=epsilon)
    return float(((c - r) * (c / r).map(math.log)).sum())


def _roc_auc(joined: DataFrame) -> dict[str, float]:
    """ROC AUC of each side on the labelled rows; nothing when only one class is present."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.sql import functions as F

    labelled = joined.where(F.col(LABEL_COLUMN).isNotNull())
    if labelled.select(LABEL_COLUMN).distinct().count() < 2:
        return {}
    out = {}
    for side, role in (("a", CHAMPION), ("b", CHALLENGER)):
        evaluator = BinaryClassificationEvaluator(
            rawPredictionCol=f"score_{side}", labelCol=LABEL_COLUMN, metricName="areaUnderROC"
        )
        out[f"{role}_roc_auc"] = float(evaluator.evaluate(labelled))
    return out


def _class_keys(joined: DataFrame) -> list[str]:
    """The class keys both sides' probabilities name (the versions' classes)."""
    from pyspark.sql import functions as F

    row = joined.select(F.map_keys("probs_a").alias("a"), F.map_keys("probs_b").alias("b")).first()
    if row is None:
        return []
    return list(dict.fromkeys([*(row["a"] or []), *(row["b"] or [])]))


def _multiclass_metrics(joined: DataFrame, keys: list[str]) -> dict[str, float]:
    """Each side's accuracy, macro F1, log loss and one-vs-rest macro ROC AUC on the labelled
    rows, with the definitions of the training scorer (training/trainer.py)."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.sql import functions as F

    labelled = joined.where(F.col(LABEL_COLUMN).isNotNull())
    present = {r[0] for r in labelled.select(LABEL_COLUMN).distinct().collect()}
    out: dict[str, float] = {}
    for side, role in (("a", CHAMPION), ("b", CHALLENGER)):
        confusion = labelled.groupBy(LABEL_COLUMN, f"prediction_{side}").count().collect()
        if not confusion:
            continue
        out[f"{role}_f1_macro"] = _macro_f1(
            [(r[LABEL_COLUMN], r[f"prediction_{side}"], r["count"]) for r in confusion]
        )
        own = F.try_element_at(F.col(f"probs_{side}"), F.col(LABEL_COLUMN))
        clipped = F.least(F.greatest(own, F.lit(LOG_LOSS_EPSILON)), F.lit(1 - LOG_LOSS_EPSILON))
        log_loss = labelled.select(F.avg(-F.log(clipped))).first()[0]
        if log_loss is not None:
            out[f"{role}_log_loss"] = float(log_loss)
        if not set(keys) <= present:
            continue  # a class without labelled rows: one-vs-rest AUC is undefined for it
        aucs = []
        for key in keys:
            one = labelled.select(
                F.col(f"probs_{side}")[key].alias("p"),
                (F.col(LABEL_COLUMN) == F.lit(key)).cast("double").alias("y"),
            )
            evaluator = BinaryClassificationEvaluator(
                rawPredictionCol="p", labelCol="y", metricName="areaUnderROC"
            )
            aucs.append(float(evaluator.evaluate(one)))
        out[f"{role}_roc_auc_ovr"] = sum(aucs) / len(aucs)
    return out


def _macro_f1(confusion: list[tuple[str, str, int]]) -> float:
    """Macro F1 over the classes seen as labels or predictions (sklearn's `average="macro"`),
    from (label, prediction, count) cells."""
    classes = {label for label, _, _ in confusion} | {pred for _, pred, _ in confusion}
    scores = []
    for c in classes:
        tp = sum(n for label, pred, n in confusion if label == c and pred == c)
        fp = sum(n for label, pred, n in confusion if label != c and pred == c)
        fn = sum(n for label, pred, n in confusion if label == c and pred != c)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(scores) / len(scores)
