"""The same dbt feature models on the duckdb and the spark target, and what bad input does.

Both targets read the raw Delta tables and end in Delta at the same lake paths (spark through
`aurora-dbt`'s temp views and staged delta-rs commits); their outputs must agree row for row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aurora_pipelines.lake.delta import read_pandas, schema_columns, version, write_table
from aurora_pipelines.sources.sample_data import generate_credit_data, generate_payment_events
from tests.dbt_support import copy_project, lake, run_dbt

TABLES = ("features", "serve/scoring_features", "payment_features", "payment_events_clean")
EVENT_MODELS = ("--vars", "{aurora_event_models: true}")
FUTURE_DAYS_LATE = 999  # only planted events from an application's future are this late


def _month_end_rows(raw: pd.DataFrame) -> pd.DataFrame:
    """Rows where the dialects' month arithmetic differs (month-ends), plus zero edge cases."""
    rows = raw.head(4).copy()
    rows["application_id"] = [f"EDGE-{i}" for i in range(4)]
    rows["last_delinquency_date"] = [
        dt.date(2023, 1, 31), dt.date(2024, 1, 31), dt.date(2023, 8, 31), dt.date(2024, 2, 29),
    ]  # fmt: skip
    rows["application_date"] = [
        dt.date(2023, 2, 28), dt.date(2024, 2, 29), dt.date(2023, 9, 30), dt.date(2024, 3, 31),
    ]  # fmt: skip
    rows["interest_rate"] = [0.0, 5.0, 12.5, 0.0]
    rows["annual_income"] = [0.0, np.nan, 50_000.0, 1.0]
    return rows


def _future_events(raw: pd.DataFrame) -> pd.DataFrame:
    """Events AT and AFTER each of 50 applications' label times: none may reach its row."""
    apps = raw.head(50)
    label_time = pd.to_datetime(apps["application_date"])
    rows = []
    for delta in (pd.Timedelta(0), pd.Timedelta(minutes=1), pd.Timedelta(days=30)):
        rows.append(
            pd.DataFrame(
                {
                    "application_id": apps["application_id"].to_numpy(),
                    "event_time": (label_time + delta).astype("datetime64[us]").to_numpy(),
                    "amount_due": 1e6,
                    "days_late": FUTURE_DAYS_LATE,
                }
            )
        )
    future = pd.concat(rows, ignore_index=True)
    future.insert(0, "event_id", [f"FUTURE-{i}" for i in range(len(future))])
    return future


@pytest.fixture(scope="module")
def inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    raw = generate_credit_data(1500, seed=3)
    raw = pd.concat([raw, _month_end_rows(raw)], ignore_index=True)
    # The scoring batch repeats some training applications (unlabelled) next to new ones.
    repeated = raw[raw["application_id"].str.startswith("EDGE")]
    batch = pd.concat([generate_credit_data(150, seed=4), repeated], ignore_index=True)
    events = pd.concat([generate_payment_events(raw, seed=5), _future_events(raw)])
    return raw, batch.drop(columns="default_flag"), events.reset_index(drop=True)


def _seed(home: Path, raw: pd.DataFrame, batch: pd.DataFrame, events: pd.DataFrame) -> None:
    write_table(lake(home, "raw"), raw)
    write_table(lake(home, "raw_batch"), batch)
    write_table(lake(home, "payment_events"), events)


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, inputs: tuple[pd.DataFrame, ...]
) -> dict[str, Path]:
    """One home per target, same raw input, after one `dbt build` each."""
    homes = {}
    for target in ("duckdb", "spark"):
        home = tmp_path_factory.mktemp(f"dbt_{target}")
        _seed(home, *inputs)
        result = run_dbt(home, "build", *EVENT_MODELS, target=target)
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        homes[target] = home
    return homes


def _sorted(path: Path) -> pd.DataFrame:
    frame = read_pandas(path)
    keys = [c for c in ("application_id", "event_id") if c in frame.columns]
    return frame.sort_values(keys).reset_index(drop=True)


@pytest.mark.parametrize("table", TABLES)
def test_duckdb_and_spark_targets_build_identical_delta_tables(
    built: dict[str, Path], table: str
) -> None:
    duck, spark = (lake(built[t], table) for t in ("duckdb", "spark"))
    assert schema_columns(duck) == schema_columns(spark)
    left, right = _sorted(duck), _sorted(spark)

    assert len(left) == len(right) > 0
    for column in left.columns:
        if left[column].dtype.kind == "f":
            # Same nulls; values equal up to the last bits of ln/power in two math libraries.
            assert left[column].isna().equals(right[column].isna()), column
            np.testing.assert_allclose(left[column], right[column], rtol=1e-12, err_msg=column)
        else:
            pd.testing.assert_series_equal(left[column], right[column], check_exact=True)


def test_month_arithmetic_is_calendar_months_on_both_targets(built: dict[str, Path]) -> None:
    # dbt's datediff(month) on spark would give 2 for Jan 31 -> Feb 28.
    expected = {"EDGE-0": 1, "EDGE-1": 1, "EDGE-2": 1, "EDGE-3": 1}
    for home in built.values():
        features = read_pandas(lake(home, "features")).set_index("application_id")
        got = features.loc[list(expected), "months_since_delinquency"].to_dict()
        assert got == expected


@pytest.mark.parametrize("target", ["duckdb", "spark"])
def test_same_application_gets_identical_training_and_scoring_features(
    built: dict[str, Path], target: str
) -> None:
    training = _sorted(lake(built[target], "features"))
    scoring = _sorted(lake(built[target], "serve/scoring_features"))
    training = training[training["application_id"].str.startswith("EDGE")].reset_index(drop=True)
    scoring = scoring[scoring["application_id"].str.startswith("EDGE")].reset_index(drop=True)

    assert len(training) == 4
    pd.testing.assert_frame_equal(training[scoring.columns], scoring, check_exact=True)


def test_spark_target_writes_one_delta_commit_per_model(built: dict[str, Path]) -> None:
    for table in TABLES:
        assert version(lake(built["spark"], table)) == 0


def _expected_payment_features(raw: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """The as-of aggregates computed in pandas, independently of the SQL."""
    spine = raw[["application_id", "application_date"]].assign(
        label_time=lambda d: pd.to_datetime(d["application_date"])
    )
    joined = spine.merge(events, on="application_id")
    past = joined[joined["event_time"] < joined["label_time"]]
    late = past["days_late"] > 0
    recent = past["event_time"] >= past["label_time"] - pd.Timedelta(days=365)
    grouped = past.assign(late=late, late_365=late & recent).groupby("application_id")
    out = pd.DataFrame(
        {
            "n_payments": grouped.size(),
            "n_late_payments": grouped["late"].sum(),
            "n_late_payments_365d": grouped["late_365"].sum(),
            "max_days_late": grouped["days_late"].max(),
        }
    )
    out = spine.set_index("application_id")[[]].join(out)
    counts = ["n_payments", "n_late_payments", "n_late_payments_365d"]
    return out.fillna({c: 0 for c in counts}).astype({c: "int64" for c in counts})


@pytest.mark.parametrize("target", ["duckdb", "spark"])
def test_future_events_never_leak_into_a_training_row(
    built: dict[str, Path], inputs: tuple[pd.DataFrame, ...], target: str
) -> None:
    raw, _, events = inputs
    got = read_pandas(lake(built[target], "payment_features")).set_index("application_id")

    # The planted events at/after the label time (days_late 999, amount 1e6) are invisible...
    assert len(got) == len(raw)
    assert (got["max_days_late"].fillna(0) < FUTURE_DAYS_LATE).all()
    assert (got["total_amount_due"].fillna(0) < 1e6).all()
    seen = got[got["last_payment_time"].notna()]
    assert (seen["last_payment_time"] < seen["label_time"]).all()
    # ...and every aggregate equals the as-of computation done independently in pandas.
    expected = _expected_payment_features(raw, events)
    pd.testing.assert_frame_equal(
        got.loc[expected.index, expected.columns], expected, check_dtype=False
    )


# --- bad input: dbt's message surfaces and no Delta table is half-written ---------------------


def test_failing_test_keeps_the_previous_delta_version(
    tmp_path: Path, inputs: tuple[pd.DataFrame, ...]
) -> None:
    raw, batch, events = inputs
    _seed(tmp_path, raw, batch, events)
    assert run_dbt(tmp_path, "build").returncode == 0
    before = version(lake(tmp_path, "features"))
    bad = raw.copy()
    bad.loc[0, "default_flag"] = 2  # violates accepted_values [0, 1]
    write_table(lake(tmp_path, "raw"), bad)

    result = run_dbt(tmp_path, "build")

    assert result.returncode == 1
    assert "FAIL 1 accepted_values_credit_default_features_default_flag" in result.stdout
    assert "model credit_default_features NOT committed to Delta" in result.stderr
    # The feature table still holds the last good build; nothing downstream sees the bad row.
    assert version(lake(tmp_path, "features")) == before
    assert set(read_pandas(lake(tmp_path, "features"))["default_flag"]) == {0, 1}
    # A model whose tests passed is still committed.
    assert version(lake(tmp_path, "serve/scoring_features")) == before + 1


def _break_model(project: Path) -> None:
    (project / "models" / "features" / "credit_default_broken.sql").write_text(
        "{{ config(delta_path=env_var('AURORA_HOME') ~ '/lake/credit_default/broken') }}\n"
        "select application_id, no_such_column from {{ source('credit_default_raw', 'raw') }}\n"
    )


def test_model_with_a_missing_column_fails_and_commits_nothing(
    tmp_path: Path, inputs: tuple[pd.DataFrame, ...]
) -> None:
    _seed(tmp_path, *inputs)
    project = copy_project(tmp_path / "project")
    _break_model(project)

    result = run_dbt(tmp_path, "build", "--select", "credit_default_broken", project_dir=project)

    assert result.returncode == 1
    assert "no_such_column" in result.stdout
    assert not (lake(tmp_path, "broken") / "_delta_log").exists()


def test_malformed_source_yaml_fails_naming_the_file(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    sources = project / "models" / "sources" / "credit_default.yml"
    sources.write_text(sources.read_text().replace("    tables:\n", "    tables: [\n", 1))

    result = run_dbt(tmp_path, "build", project_dir=project)

    assert result.returncode == 2
    assert "credit_default.yml" in result.stdout + result.stderr
    assert not lake(tmp_path, "features").exists()


def test_dagster_run_fails_with_dbt_message_when_a_model_is_broken(
    tmp_path: Path, inputs: tuple[pd.DataFrame, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from aurora_pipelines.defs.assets.features import build_dbt_assets, dbt_project
    from aurora_pipelines.defs.resources import build_resources
    from aurora_pipelines.defs.runner import _root_message
    from aurora_pipelines.settings import Settings

    home = tmp_path / "home"
    monkeypatch.setenv("AURORA_HOME", str(home))
    _seed(home, *inputs)
    project_dir = copy_project(tmp_path / "project")
    _break_model(project_dir)
    settings = Settings(home=home, dbt_project_dir=project_dir)
    resources = build_resources(settings)

    result = dg.materialize(
        [build_dbt_assets(dbt_project(project_dir, "duckdb", settings.root))],
        resources={"dbt": resources["dbt"], "lake": resources["lake"]},
        selection=[dg.AssetKey(["dbt", "credit_default_broken"])],
        raise_on_error=False,
    )

    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    message = _root_message(failures[0].step_failure_data.error)
    assert message.startswith("dbt: ")
    assert 'Referenced column "no_such_column" not found' in message
    assert not (lake(home, "broken") / "_delta_log").exists()


def test_feature_assets_link_to_their_dbt_docs_page() -> None:
    import dagster as dg

    from aurora_pipelines.defs.definitions import build_definitions
    from aurora_pipelines.settings import REPO_DIR, Settings

    defs = build_definitions(Settings(experiments_dir=REPO_DIR / "experiments"))
    node = defs.resolve_asset_graph().get(dg.AssetKey(["credit_default", "features"]))

    link = node.metadata["dbt_docs"].value
    assert link.startswith("file://") and "/dbt_project/target/docs/index.html" in link
    assert link.endswith("#!/model/model.aurora.credit_default_features")
