"""Batch scoring's two engines write the same scores: Spark's executors (serving/batch.py) and
the in-process engine for small local tables (serving/batch_local.py), for binary, multiclass
and regression versions, with a time column, a carried label and a challenger."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F
from sklearn.linear_model import LinearRegression, LogisticRegression

from aurora_pipelines.lake import delta
from aurora_pipelines.serving.batch import ScoringModel, score_day, write_day
from aurora_pipelines.serving.batch_local import local_engine_applies, score_day_local
from tests.factories import in_memory_version

FEATURES = ["x1", "x2"]
DAY = "2026-03-02"


def _features(n: int = 2_000, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    start = pd.Timestamp("2026-03-01", tz="UTC")
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype="int64"),  # not a string: both engines write str(id)
            "event_time": start + pd.to_timedelta(rng.integers(0, 3 * 86_400, n), unit="s"),
            "x1": x1,
            "x2": x2,
            "y": (x1 - x2 > 0).astype("int64"),
            "kind": np.where(x1 > 0.5, "high", np.where(x1 < -0.5, "low", "mid")),
            "amount": 3 * x1 + x2,
        }
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _features()


def _versions(frame: pd.DataFrame, kind: str) -> list[ScoringModel]:
    x = frame[FEATURES]
    if kind == "binary":
        good = LogisticRegression().fit(x, frame["y"])
        weak = LogisticRegression().fit(x.assign(x1=0.0), frame["y"])
        return [
            ScoringModel("champion", in_memory_version(good, FEATURES, threshold=0.3)),
            ScoringModel("challenger", in_memory_version(weak, FEATURES, version="2")),
        ]
    if kind == "multiclass":
        model = LogisticRegression(max_iter=500).fit(x, frame["kind"])
        return [ScoringModel("champion", in_memory_version(model, FEATURES))]
    model = LinearRegression().fit(x, frame["amount"])
    return [ScoringModel("champion", in_memory_version(model, FEATURES, problem_type="regression"))]


def _read_back(path: Path) -> pd.DataFrame:
    table = delta.read_pandas(path).drop(columns=["scored_at"])
    table["class_probabilities"] = table["class_probabilities"].map(
        lambda v: None if v is None else sorted(dict(v).items())
    )
    return table.sort_values(["role", "id"]).reset_index(drop=True)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_in_process_and_spark_engines_write_identical_scores(
    spark, frame: pd.DataFrame, tmp_path: Path, kind: str
):
    label = {"binary": "y", "multiclass": "kind", "regression": "amount"}[kind]
    features = tmp_path / "features"
    delta.write_table(features, frame)
    models = _versions(frame, kind)
    assert local_engine_applies(features, models, spark_master="local[2]", time_column="event_time")

    common = {"day": DAY, "time_column": "event_time", "id_column": "id", "label_column": label}
    on_spark = score_day(delta.read_spark(spark, features), models, **common)
    write_day(on_spark, str(tmp_path / "spark"), DAY)
    local = score_day_local(features, models, **common)
    delta.write_partition(tmp_path / "local", local, column="date", value=DAY)

    want, got = _read_back(tmp_path / "spark"), _read_back(tmp_path / "local")
    expected_rows = frame["event_time"].dt.strftime("%Y-%m-%d").eq(DAY).sum() * len(models)
    assert 0 < len(got) == expected_rows
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12)
    assert delta.arrow_schema(tmp_path / "local") == delta.arrow_schema(tmp_path / "spark")


def test_the_in_process_engine_applies_only_to_small_local_tables(frame, tmp_path: Path):
    features = tmp_path / "features"
    delta.write_table(features, frame)
    models = _versions(frame, "binary")
    assert local_engine_applies(features, models, spark_master="local[*]", time_column=None)
    assert not local_engine_applies(
        features, models, spark_master="spark://127.0.0.1:7077", time_column=None
    )
    as_text = tmp_path / "text_time"
    delta.write_table(as_text, frame.assign(event_time=frame["event_time"].astype(str)))
    assert not local_engine_applies(
        as_text, models, spark_master="local[2]", time_column="event_time"
    )


def _table_files(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}


def test_executor_files_are_committed_as_the_days_only_files(spark, frame, tmp_path: Path):
    path, models = tmp_path / "scores", _versions(frame, "binary")
    batch = delta.read_spark(spark, _written(frame, tmp_path))
    for _ in range(2):  # the rerun replaces the day's files
        version = write_day(score_day(batch, models, day=DAY, time_column=None, id_column="id"),
                            str(path), DAY, commit_info={"run": "r1"})  # fmt: skip
    assert version == 1 and delta.row_count(path) == 2 * len(frame)
    live = set(delta.file_uris(path))
    assert all(f"/date={DAY}/part-" in uri for uri in live)
    assert not any(".aurora-staging" in name for name in _table_files(path))


def test_a_failed_scoring_write_leaves_no_table_version_and_no_files(spark, frame, tmp_path):
    path, models = tmp_path / "scores", _versions(frame, "binary")
    features = _written(frame, tmp_path)
    write_day(score_day(delta.read_spark(spark, features), models, day=DAY, time_column=None,
                        id_column="id"), str(path), DAY)  # fmt: skip
    before, files = delta.version(path), _table_files(path)

    # The executors fail: a feature the model cannot read.
    broken = delta.read_spark(spark, features).withColumn("x2", F.lit("not a number"))
    with pytest.raises(Exception, match="could not convert|not a number"):
        write_day(score_day(broken, models, day=DAY, time_column=None, id_column="id"),
                  str(path), DAY)  # fmt: skip
    # The executors succeed but the commit fails (delta-rs refuses a NaN in commit metadata).
    scored = score_day(delta.read_spark(spark, features), models, day=DAY, time_column=None,
                       id_column="id")  # fmt: skip
    with pytest.raises(Exception, match="(?i)nan|json"):
        write_day(scored, str(path), DAY, commit_info={"bad": float("nan")})  # type: ignore[dict-item]
    assert delta.version(path) == before and _table_files(path) == files


def _written(frame: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "features"
    if not delta.is_delta_table(path):
        delta.write_table(path, frame)
    return path
