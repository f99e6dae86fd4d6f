"""Batch scoring engine on real Spark and Delta: daily partitions, idempotent day overwrite,
and the champion/challenger A/B comparison."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from aurora_pipelines.errors import SourceError
from aurora_pipelines.lake import delta
from aurora_pipelines.monitoring.psi import population_stability_index
from aurora_pipelines.serving.ab_comparison import compare_scores
from aurora_pipelines.serving.batch import ScoringModel, partition_rows, score_day, write_day
from tests.factories import in_memory_version

FEATURES = ["x1", "x2"]
DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]


def _frame(n: int = 3_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    label = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * x1 - x2)))).astype("int64")
    start = date.fromisoformat(DAYS[0])
    return pd.DataFrame(
        {
            "id": [f"E{i:05d}" for i in range(n)],
            "event_time": pd.to_datetime(
                [start + timedelta(days=int(d)) for d in rng.integers(0, 3, n)]
            )
            + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "x1": x1,
            "x2": x2,
            "y": label,
        }
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _frame()


@pytest.fixture(scope="module")
def models(frame: pd.DataFrame) -> tuple[LogisticRegression, LogisticRegression]:
    good = LogisticRegression().fit(frame[FEATURES], frame["y"])
    # A weaker challenger: it only sees x2.
    weak = LogisticRegression().fit(frame[["x2"]].assign(x1=0.0)[FEATURES], frame["y"])
    return good, weak


@pytest.fixture(scope="module")
def batch(spark, frame: pd.DataFrame):
    return spark.createDataFrame(frame)


def _scoring(role: str, version: str, model: LogisticRegression) -> ScoringModel:
    return ScoringModel(role, in_memory_version(model, FEATURES, version=version))


def _score(batch, models: list[ScoringModel], day: str, time_column: str | None = "event_time"):
    return score_day(
        batch, models, day=day, time_column=time_column, id_column="id", label_column="y"
    )


def test_a_partition_scores_only_the_rows_of_its_utc_day(batch, frame, models):
    scored = _score(batch, [_scoring("champion", "1", models[0])], DAYS[1]).toPandas()
    expected = frame[frame["event_time"].dt.strftime("%Y-%m-%d") == DAYS[1]]
    assert 0 < len(scored) < len(frame)
    assert sorted(scored["id"]) == sorted(expected["id"])
    assert set(scored["date"]) == {DAYS[1]} and set(scored["role"]) == {"champion"}
    assert scored["score"].between(0, 1).all() and set(scored["label"]) <= {0.0, 1.0}


def test_without_a_time_column_a_partition_scores_the_whole_snapshot(batch, frame):
    assert partition_rows(batch, DAYS[0], None).count() == len(frame)


def test_unknown_time_column_or_bad_day_names_the_fix(batch):
    with pytest.raises(SourceError, match="scoring.time_column 'when'"):
        partition_rows(batch, DAYS[0], "when")
    with pytest.raises(SourceError, match="YYYY-MM-DD"):
        partition_rows(batch, "27/11/2026", "event_time")


def test_rerunning_a_day_replaces_only_that_day(batch, models, tmp_path: Path):
    path = tmp_path / "batch_scores"
    champion = _scoring("champion", "1", models[0])
    for day in DAYS:
        write_day(_score(batch, [champion], day), str(path), day)
    before = delta.read_pandas(path)
    assert set(before["date"]) == set(DAYS)
    assert delta.version(path) == 2

    # Re-run day 2 with another version: day 2 is replaced, days 1 and 3 are untouched.
    write_day(_score(batch, [_scoring("champion", "2", models[1])], DAYS[1]), str(path), DAYS[1])
    after = delta.read_pandas(path)
    assert len(after) == len(before)
    by_day = after.groupby("date")["model_version"].agg(set).to_dict()
    assert by_day == {DAYS[0]: {"1"}, DAYS[1]: {"2"}, DAYS[2]: {"1"}}
    unchanged = before[before["date"] != DAYS[1]].sort_values("id").reset_index(drop=True)
    kept = after[after["date"] != DAYS[1]].sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(unchanged, kept)
    assert (
        len(delta.read_partition(path, column="date", value=DAYS[1]))
        == before["date"].eq(DAYS[1]).sum()
    )


def test_a_table_written_before_partitioning_is_replaced_by_the_partitioned_layout(
    batch, models, tmp_path: Path
):
    path = tmp_path / "legacy"
    delta.write_table(path, pd.DataFrame({"id": ["old"], "score": [0.5]}))
    write_day(_score(batch, [_scoring("champion", "1", models[0])], DAYS[0]), str(path), DAYS[0])
    table = delta.read_pandas(path)
    assert "old" not in set(table["id"]) and set(table["date"]) == {DAYS[0]}


def test_ab_comparison_of_a_version_with_itself_shows_no_difference(batch, models):
    same = [_scoring("champion", "1", models[0]), _scoring("challenger", "1", models[0])]
    result = compare_scores(
        _score(batch, same, DAYS[0]), id_column="id", problem_type="classification"
    )
    assert result is not None
    assert result.agreement_rate == 1.0 and result.mean_score_diff == 0.0
    assert result.score_psi == pytest.approx(0.0, abs=1e-12)
    assert result.metrics["champion_accuracy"] == result.metrics["challenger_accuracy"]


def test_ab_comparison_measures_a_weaker_challenger(batch, models, frame):
    pair = [_scoring("champion", "1", models[0]), _scoring("challenger", "2", models[1])]
    scores = _score(batch, pair, DAYS[2])
    result = compare_scores(scores, id_column="id", problem_type="classification")
    day_rows = (frame["event_time"].dt.strftime("%Y-%m-%d") == DAYS[2]).sum()
    assert result.rows == day_rows
    assert (result.champion_version, result.challenger_version) == ("1", "2")
    assert 0.0 < result.agreement_rate < 1.0
    local = scores.toPandas()
    a = local[local["role"] == "champion"].set_index("id")
    b = local[local["role"] == "challenger"].set_index("id").loc[a.index]
    assert result.mean_score_diff == pytest.approx((b["score"] - a["score"]).mean())
    assert result.agreement_rate == pytest.approx((a["prediction"] == b["prediction"]).mean())
    # The plot's histogram: each side's scores over the same bins, every row counted once.
    histogram = result.histogram
    assert len(histogram.edges) == len(histogram.champion) + 1 == len(histogram.challenger) + 1
    assert sum(histogram.champion) == sum(histogram.challenger) == day_rows
    assert histogram.edges[0] == pytest.approx(min(a["score"].min(), b["score"].min()))
    expected, _ = np.histogram(a["score"], bins=histogram.edges)
    assert histogram.champion == expected.tolist()
    # Same bucketing as monitoring/psi.py (up to approxQuantile vs interpolated edges).
    assert result.score_psi > 0.1
    assert result.score_psi == pytest.approx(
        population_stability_index(a["score"], b["score"]), rel=0.15
    )
    assert result.metrics["champion_roc_auc"] > result.metrics["challenger_roc_auc"]
    frame_out = result.to_frame()
    assert frame_out.loc[0, "date"] == DAYS[2] and "champion_roc_auc" in frame_out.columns


def test_ab_comparison_needs_both_roles(batch, models):
    only = _score(batch, [_scoring("champion", "1", models[0])], DAYS[0])
    assert compare_scores(only, id_column="id", problem_type="classification") is None


def test_a_day_without_rows_empties_its_partition_and_compares_nothing(
    spark, batch, models, tmp_path: Path
):
    path = tmp_path / "scores"
    pair = [_scoring("champion", "1", models[0]), _scoring("challenger", "2", models[1])]
    write_day(_score(batch, pair, DAYS[0]), str(path), DAYS[0])
    empty_day = "2026-04-01"
    write_day(_score(batch, pair, empty_day), str(path), empty_day)
    assert set(delta.read_pandas(path)["date"]) == {DAYS[0]}
    day = delta.read_spark(spark, path, partition=("date", empty_day))
    assert day.count() == 0 and "score" in day.columns
    assert compare_scores(day, id_column="id", problem_type="classification") is None
    # The other day reads back with its partition column as a string.
    first = delta.read_spark(spark, path, partition=("date", DAYS[0]))
    assert {r["date"] for r in first.select("date").distinct().collect()} == {DAYS[0]}
