"""Incremental dbt models over an append-only event source, on Delta (duckdb target):
`credit_default_payment_events_clean` reads only the events after the watermark already in its
Delta table and appends them in one commit (macros/aurora/incremental.sql)."""

from __future__ import annotations

import pandas as pd
import pytest
from deltalake import DeltaTable

from aurora_pipelines.lake.delta import read_pandas, version, write_table
from aurora_pipelines.sources.sample_data import generate_credit_data, generate_payment_events
from tests.dbt_support import lake, run_dbt

BUILD = (
    "build", "--select", "credit_default_payment_events_clean",
    "--vars", "{aurora_event_models: true}",
)  # fmt: skip


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    applications = generate_credit_data(250, seed=11)
    return generate_payment_events(applications, seed=11).sort_values("event_time")


@pytest.fixture(scope="module")
def batches(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events up to a cutoff time (ingested first), and the later ones (appended after)."""
    cutoff = events["event_time"].quantile(0.7)
    first = events[events["event_time"] <= cutoff]
    later = events[events["event_time"] > cutoff]
    assert len(first) > 0 and len(later) > 0
    return first, later


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, batches: tuple[pd.DataFrame, pd.DataFrame]
) -> dict[str, object]:
    """Run 1 on the first batch; append the later events to the source; run 2; run 3 with
    nothing new. Records the target's version and rows after each run."""
    first, later = batches
    home = tmp_path_factory.mktemp("dbt_incremental")
    source, target = lake(home, "payment_events"), lake(home, "payment_events_clean")
    write_table(source, first)
    record: dict[str, object] = {"home": home, "versions": [], "frames": [], "logs": []}
    for step in range(3):
        result = run_dbt(home, *BUILD)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        record["versions"].append(version(target))  # type: ignore[union-attr]
        record["frames"].append(read_pandas(target))  # type: ignore[union-attr]
        record["logs"].append(result.stderr)  # type: ignore[union-attr]
        if step == 0:
            write_table(source, later, mode="append")
    return record


def test_first_run_loads_every_event(
    runs: dict[str, object], batches: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    first, _ = batches
    loaded = runs["frames"][0]  # type: ignore[index]
    assert runs["versions"][0] == 0  # type: ignore[index]
    assert sorted(loaded["event_id"]) == sorted(first["event_id"])


def test_second_run_appends_only_the_new_events_in_one_commit(
    runs: dict[str, object], batches: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    first, later = batches
    after = runs["frames"][1]  # type: ignore[index]
    assert runs["versions"][1] == 1  # type: ignore[index]
    # Every event exactly once: the first batch was not read (and appended) again.
    assert after["event_id"].is_unique
    assert sorted(after["event_id"]) == sorted(pd.concat([first, later])["event_id"])
    # The new commit is an append of exactly the later events.
    target = lake(runs["home"], "payment_events_clean")  # type: ignore[arg-type]
    commit = DeltaTable(str(target)).history(1)[0]
    assert commit["operation"] == "WRITE" and commit["operationParameters"]["mode"] == "Append"
    assert int(commit["operationMetrics"]["num_added_rows"]) == len(later)


def test_rerun_without_new_events_adds_nothing(runs: dict[str, object]) -> None:
    assert runs["versions"][2] == runs["versions"][1]  # type: ignore[index]
    pd.testing.assert_frame_equal(runs["frames"][2], runs["frames"][1])  # type: ignore[index]
    assert "no new rows" in runs["logs"][2]  # type: ignore[index]


def test_appended_rows_are_cleaned_like_the_first_load(runs: dict[str, object]) -> None:
    table = runs["frames"][1]  # type: ignore[index]
    expected_late = (table["days_late"] > 0).astype("int64")
    assert table["is_late"].astype("int64").tolist() == expected_late.tolist()
    assert (table["event_date"].astype("datetime64[us]") == table["event_time"].dt.floor("D")).all()


def test_full_refresh_rebuilds_the_table_in_one_overwrite(
    runs: dict[str, object], events: pd.DataFrame
) -> None:
    home = runs["home"]
    target = lake(home, "payment_events_clean")  # type: ignore[arg-type]
    before = version(target)
    result = run_dbt(home, *BUILD, "--full-refresh")  # type: ignore[arg-type]
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]

    assert version(target) == before + 1
    rebuilt = read_pandas(target)
    assert rebuilt["event_id"].is_unique and len(rebuilt) == len(events)
    commit = DeltaTable(str(target)).history(1)[0]
    assert commit["operationParameters"]["mode"] == "Overwrite"
