"""Drift of one window end to end on Spark: reference (cached), counts, statistics, report.

Called by the `monitor/drift` asset and by the benchmark; plain Python, no Dagster.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aurora_pipelines.monitoring.binning import count_spark
from aurora_pipelines.monitoring.reference import (
    LOCAL_REFERENCE_MAX_ROWS,
    SCORE_FEATURE,
    BucketCounts,
    FeatureReference,
    ReferenceProfile,
    build_reference_spark,
    class_score_feature,
    local_table_rows,
    score_feature_class,
)
from aurora_pipelines.monitoring.window import (
    EVIDENTLY_SAMPLE_ROWS,
    WindowDrift,
    evidently_on_samples,
    window_drift,
)
from aurora_pipelines.monitoring.window_data import CLASS_PROBABILITIES
from aurora_pipelines.specs import MonitoringSpec

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame


def bounded_sample(df: DataFrame, rows: int, columns: list[str], seed: int = 0) -> pd.DataFrame:
    """At most ~`rows` rows of `df` as pandas (a Bernoulli sample, then a limit)."""
    total = df.count()
    fraction = min(1.0, rows / max(total, 1) * 1.1)
    sample = (
        df.select(*columns)
        if fraction >= 1.0
        else df.select(*columns).sample(fraction=fraction, seed=seed)
    )
    return sample.limit(rows).toPandas()


def is_small_local(path: str | Path) -> bool:
    """Whether a table is on local disk with at most LOCAL_REFERENCE_MAX_ROWS rows: binned in
    this process (seconds of numpy), not by Spark (a minute of JVM work at 1M x 30)."""
    rows = local_table_rows(path)
    return rows is not None and rows <= LOCAL_REFERENCE_MAX_ROWS


def load_or_build_reference(
    directory: Path,
    reference: DataFrame,
    columns: list[str],
    *,
    source: str,
    model_version: str | None,
    reference_scores: Callable[[], DataFrame | None] | None = None,
    local_table: str | Path | None = None,
) -> tuple[ReferenceProfile, Path]:
    """The reference bins (`bins.json`) and a bounded sample (`sample.parquet`) in `directory`,
    computed once per source (e.g. a features table version) and model version.

    `reference_scores` returns the reference score distribution (UAT or training scores); it
    is called only when the reference is (re)built. `local_table`: where `reference` was read
    from; a local table of at most LOCAL_REFERENCE_MAX_ROWS is binned in this process."""
    bins, sample = Path(directory) / "bins.json", Path(directory) / "sample.parquet"
    if bins.exists() and sample.exists():
        profile = ReferenceProfile.load(bins)
        if profile.source == source and profile.model_version == model_version:
            return profile, sample
    local = local_table is not None and is_small_local(local_table)
    if local:
        from aurora_pipelines.monitoring.local_binning import (
            build_reference_arrow,
            read_columns,
            sample_arrow,
        )

        # One read of the needed columns serves the bins and the Evidently sample.
        table = read_columns(local_table, columns)
        profile = build_reference_arrow(table, columns, source=source, model_version=model_version)
    else:
        profile = build_reference_spark(
            reference, columns, source=source, model_version=model_version
        )
    scores = reference_scores() if reference_scores is not None else None
    if scores is not None:
        profile.score = score_reference(scores)
        profile.class_scores = class_score_references(scores)
    kept = [f.column for f in profile.features]
    sample.parent.mkdir(parents=True, exist_ok=True)
    if local:
        frame = sample_arrow(table.select(kept), EVIDENTLY_SAMPLE_ROWS).to_pandas()
    else:
        frame = bounded_sample(reference, EVIDENTLY_SAMPLE_ROWS, kept)
    frame.to_parquet(sample, index=False)
    profile.save(bins)
    return profile, sample


def score_reference(scores: DataFrame) -> FeatureReference | None:
    """The reference score distribution (training/UAT scores) as a numeric feature."""
    from pyspark.sql import functions as F

    frame = scores.select(F.col("score").cast("double").alias(SCORE_FEATURE))
    profile = build_reference_spark(frame, [SCORE_FEATURE])
    return profile.features[0] if profile.features else None


def score_classes(scores: DataFrame) -> list[str]:
    """The class labels of a multiclass model's scores (empty for binary and regression):
    the keys of their class-probability map. A binary model's two class scores say no more
    than its one score, so they are not monitored apart."""
    from pyspark.sql import functions as F

    if CLASS_PROBABILITIES not in scores.columns:
        return []
    keys = scores.select(F.explode(F.map_keys(CLASS_PROBABILITIES)).alias("k")).distinct()
    labels = sorted(str(row["k"]) for row in keys.collect())
    return labels if len(labels) > 2 else []


def class_score_columns(scores: DataFrame, labels: list[str]) -> DataFrame:
    """One column per class's probability (`class_score_feature(label)`), for rows that have
    the map: a logged answer without one is not a missing probability."""
    from pyspark.sql import functions as F

    present = scores.where(F.col(CLASS_PROBABILITIES).isNotNull())
    return present.select(
        *[
            F.col(CLASS_PROBABILITIES)[label].cast("double").alias(class_score_feature(label))
            for label in labels
        ]
    )


def class_score_references(scores: DataFrame) -> list[FeatureReference]:
    """Each class's reference probability distribution (multiclass models only)."""
    labels = score_classes(scores)
    if not labels:
        return []
    columns = [class_score_feature(label) for label in labels]
    return build_reference_spark(class_score_columns(scores, labels), columns).features


def class_score_counts(
    window: DataFrame, references: list[FeatureReference]
) -> dict[str, BucketCounts]:
    """The window's counts in each class score's reference buckets."""
    if not references or CLASS_PROBABILITIES not in window.columns:
        return {}
    labels = [score_feature_class(f.column) for f in references]
    return count_spark(class_score_columns(window, labels), references)


def drift_of_window(
    window: DataFrame,
    profile: ReferenceProfile,
    monitoring: MonitoringSpec,
    *,
    window_name: str,
    reference_sample: pd.DataFrame | None = None,
    report_path: Path | None = None,
    local_table: str | Path | None = None,
) -> WindowDrift:
    """Counts on Spark (or, when `window` was read from `local_table`, a small local table, in
    this process), statistics from counts, Evidently + HTML on bounded samples."""
    from pyspark.sql import functions as F

    local = local_table is not None and is_small_local(local_table)
    if local:
        counts, score_counts = _local_counts(local_table, profile, window.columns)
    else:
        counts = count_spark(window, profile.features)
        score_counts = None
        if profile.score is not None and "score" in window.columns:
            scores = window.select(F.col("score").alias(SCORE_FEATURE))
            score_counts = count_spark(scores, [profile.score])[SCORE_FEATURE]
    result = window_drift(
        profile,
        counts,
        monitoring,
        window=window_name,
        score_counts=score_counts,
        class_counts=class_score_counts(window, profile.class_scores),
    )
    if reference_sample is not None and report_path is not None:
        kept = [f.column for f in profile.features]
        if local:
            from aurora_pipelines.monitoring.local_binning import sample_local

            current = sample_local(local_table, EVIDENTLY_SAMPLE_ROWS, kept)
        else:
            current = bounded_sample(window, EVIDENTLY_SAMPLE_ROWS, kept)
        result.evidently_drift_share = evidently_on_samples(
            reference_sample[kept],
            current,
            profile,
            monitoring,
            report_path,
            # Widgets for what Aurora calls drifted (and the score's inputs stay in the share).
            detail_columns=result.drifted_columns,
        )
        result.report_path = str(report_path)
    return result


def _local_counts(
    path: str | Path, profile: ReferenceProfile, columns: list[str]
) -> tuple[dict[str, BucketCounts], BucketCounts | None]:
    """Feature counts (and score counts, when the table has a `score`) of a local table."""
    from aurora_pipelines.monitoring.local_binning import count_local

    if profile.score is None or "score" not in columns:
        return count_local(path, profile.features), None
    score = profile.score.model_copy(update={"column": "score"})
    counts = count_local(path, [*profile.features, score])
    return counts, counts.pop("score")
