"""One sampling rule for both training families: a table larger than `training.max_train_rows`
keeps the same rows whether the plan trains in process (pandas) or on Spark MLlib."""

from __future__ import annotations

import pandas as pd
import pytest

from aurora_pipelines.errors import SpecError
from aurora_pipelines.sources.sample_data import generate_credit_data
from aurora_pipelines.training.row_sample import sample_pandas, sample_spark


def _both(spark, frame: pd.DataFrame, limit: int, seed: int, id_column: str):
    kwargs = {"limit": limit, "id_column": id_column, "seed": seed, "experiment": "e"}
    in_process = sample_pandas(frame, **kwargs)
    on_spark = sample_spark(spark.createDataFrame(frame), **kwargs).toPandas()
    return in_process, on_spark


@pytest.mark.parametrize("id_kind", ["integer", "string"])
def test_pandas_and_spark_families_keep_the_same_ids(spark, id_kind: str):
    frame = generate_credit_data(1200, seed=4)
    if id_kind == "integer":
        frame["application_id"] = range(1000, 1000 + 3 * len(frame), 3)
    in_process, on_spark = _both(spark, frame, 300, 42, "application_id")
    assert len(in_process) == len(on_spark) == 300
    assert set(in_process["application_id"]) == set(on_spark["application_id"])
    # Whole rows, not only ids, and the pandas rows keep the table's order.
    assert list(on_spark.columns) == list(frame.columns)
    positions = frame.index[frame["application_id"].isin(in_process["application_id"])]
    assert list(in_process["application_id"]) == list(frame.loc[positions, "application_id"])


def test_the_sample_depends_on_the_seed_and_grows_monotonically(spark):
    frame = generate_credit_data(800, seed=5)
    small, _ = _both(spark, frame, 100, 42, "application_id")
    large, large_spark = _both(spark, frame, 400, 42, "application_id")
    other, other_spark = _both(spark, frame, 100, 7, "application_id")
    assert set(small["application_id"]) <= set(large["application_id"])
    assert set(large["application_id"]) == set(large_spark["application_id"])
    assert set(other["application_id"]) != set(small["application_id"])
    assert set(other["application_id"]) == set(other_spark["application_id"])
    # Not the first ids in order (what Spark's old `orderBy(id).limit(n)` kept).
    assert set(small["application_id"]) != set(sorted(frame["application_id"])[:100])


def test_a_table_within_the_limit_is_kept_whole_and_sampling_needs_an_id():
    frame = generate_credit_data(50, seed=6)
    kept = sample_pandas(frame, limit=100, id_column="application_id", seed=1, experiment="e")
    assert len(kept) == 50
    assert len(sample_pandas(frame, limit=None, id_column=None, seed=1, experiment="e")) == 50
    with pytest.raises(SpecError, match="experiment 'e'.*set `id_column`"):
        sample_pandas(frame, limit=10, id_column=None, seed=1, experiment="e")
