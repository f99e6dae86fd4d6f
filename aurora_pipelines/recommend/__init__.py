"""Explained model suggestions: data characteristics -> ranked algorithms, metric, validation.

`recommend_for_frame` measures a frame and applies the rules; `recommend_for_table` does
the same on a seeded sample of a Delta table; `resolve_plan` merges a recommendation with
the spec (the spec's explicit fields win).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from aurora_pipelines.recommend.characteristics import SAMPLE_ROWS, DataCharacteristics, measure
from aurora_pipelines.recommend.plan import TrainingPlan, optuna_storage_url, resolve_plan
from aurora_pipelines.recommend.rules import Recommendation, Suggestion, recommend
from aurora_pipelines.specs import ExperimentSpec

__all__ = [
    "DataCharacteristics",
    "Recommendation",
    "Suggestion",
    "TrainingPlan",
    "optuna_storage_url",
    "recommend",
    "recommend_for_frame",
    "recommend_for_table",
    "resolve_plan",
]


def recommend_for_frame(
    df: pd.DataFrame, spec: ExperimentSpec, total_rows: int | None = None
) -> Recommendation:
    """Recommendation for an experiment's feature frame (`total_rows` if `df` is a sample)."""
    from aurora_pipelines.training.algorithms import check_problem_type
    from aurora_pipelines.training.trainer import check_columns

    if spec.is_unsupervised:
        from aurora_pipelines.recommend.unsupervised import recommend_unsupervised

        return recommend_unsupervised(df, spec, total_rows=total_rows)
    check_problem_type(spec.problem_type.value)
    check_columns(df, target=spec.target, id_column=spec.id_column, time_column=spec.time_column)
    chars = measure(
        df,
        target=spec.target,
        problem_type=spec.problem_type.value,
        id_column=spec.id_column,
        time_column=spec.time_column,
        total_rows=total_rows,
        seed=spec.training.seed,
    )
    recommendation = recommend(chars)
    from aurora_pipelines.recommend.unsupervised import task_notes

    recommendation.notes.extend(task_notes(df, spec))
    return recommendation


def table_rows(path: Path) -> int:
    """Row count of a Delta table from its log's file statistics (no data read)."""
    import pyarrow as pa
    from deltalake import DeltaTable

    actions = pa.table(DeltaTable(str(path)).get_add_actions(flatten=True))
    return int(pa.compute.sum(actions.column("num_records")).as_py() or 0)


def read_sample(path: Path, rows: int, seed: int) -> tuple[pd.DataFrame, int]:
    """A seeded sample of at most `rows` rows of a Delta table, and the table's row count."""
    import pyarrow.parquet as pq

    from aurora_pipelines.lake import delta

    total = table_rows(path)
    if total <= 5 * rows:
        frame = delta.read_pandas(path)
    else:
        # Read whole files (in a seeded order) until the sample is covered, never the table.
        import numpy as np

        uris = delta.file_uris(path)
        order = np.random.default_rng(seed).permutation(len(uris))
        parts, have = [], 0
        for i in order:
            part = pq.read_table(uris[i]).to_pandas()
            parts.append(part)
            have += len(part)
            if have >= 2 * rows:
                break
        frame = pd.concat(parts, ignore_index=True)
    if len(frame) > rows:
        frame = frame.sample(n=rows, random_state=seed)
    return frame.reset_index(drop=True), total


def recommend_for_table(path: Path, spec: ExperimentSpec) -> Recommendation:
    """Recommendation for the experiment's feature table (a Delta table at `path`)."""
    frame, total = read_sample(path, SAMPLE_ROWS, spec.training.seed)
    return recommend_for_frame(frame, spec, total_rows=total)
