"""The dbt project builds the credit_default feature tables in Delta, with real dbt runs
(`aurora-dbt` in a subprocess, see tests/dbt_support.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dbt.adapters.duckdb.relation import DuckDBRelation
from dbt.adapters.duckdb.utils import TargetConfig, TargetLocation

from aurora_pipelines.errors import SpecError
from aurora_pipelines.lake.dbt_delta_plugin import Plugin
from aurora_pipelines.lake.delta import read_pandas, version, write_table
from aurora_pipelines.sources.sample_data import generate_credit_data
from tests.dbt_support import lake, run_dbt

SCORING_FEATURES = [
    "application_id", "application_date", "age", "annual_income", "employment_years",
    "employment_type", "home_ownership", "region", "loan_amount", "loan_term_months",
    "loan_purpose", "interest_rate", "credit_score", "credit_utilization", "num_credit_lines",
    "num_late_payments_12m", "debt_to_income", "has_cosigner", "loan_to_income",
    "monthly_payment", "payment_to_income", "months_since_delinquency", "has_delinquency",
    "log_annual_income",
]  # fmt: skip
TRAINING_FEATURES = [*SCORING_FEATURES, "default_flag"]


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return generate_credit_data(3000, seed=1)


@pytest.fixture(scope="module")
def parity_ids(raw: pd.DataFrame) -> list[str]:
    # Rows that exercise every branch: delinquent, never delinquent, missing income.
    delinquent = raw[raw["last_delinquency_date"].notna()].iloc[0]
    clean = raw[raw["last_delinquency_date"].isna()].iloc[0]
    no_income = raw[raw["annual_income"].isna()].iloc[0]
    return [delinquent["application_id"], clean["application_id"], no_income["application_id"]]


@pytest.fixture(scope="module")
def built_home(
    tmp_path_factory: pytest.TempPathFactory, raw: pd.DataFrame, parity_ids: list[str]
) -> Path:
    """A home with raw + scoring batch in Delta, after one successful `dbt build`."""
    home = tmp_path_factory.mktemp("dbt_home")
    write_table(lake(home, "raw"), raw)
    # The batch has no labels (they arrive later) and repeats a few training applications.
    batch = pd.concat(
        [generate_credit_data(200, seed=2), raw[raw["application_id"].isin(parity_ids)]],
        ignore_index=True,
    ).drop(columns="default_flag")
    write_table(lake(home, "raw_batch"), batch)
    result = run_dbt(home, "build")
    assert result.returncode == 0, result.stdout[-4000:]
    return home


def test_build_writes_training_and_scoring_feature_tables(built_home: Path) -> None:
    training = read_pandas(lake(built_home, "features"))
    scoring = read_pandas(lake(built_home, "serve/scoring_features"))

    assert list(training.columns) == TRAINING_FEATURES
    assert list(scoring.columns) == SCORING_FEATURES
    assert len(training) == 3000
    assert len(scoring) == 203
    assert set(training["default_flag"]) == {0, 1}


def test_training_and_scoring_features_are_identical_for_the_same_application(
    built_home: Path, parity_ids: list[str]
) -> None:
    def rows(table: str) -> pd.DataFrame:
        df = read_pandas(lake(built_home, table), columns=SCORING_FEATURES)
        df = df[df["application_id"].isin(parity_ids)]
        return df.sort_values("application_id").reset_index(drop=True)

    training, scoring = rows("features"), rows("serve/scoring_features")

    assert len(training) == len(parity_ids)
    pd.testing.assert_frame_equal(training, scoring, check_exact=True)
    # The derived features are really computed (not all null) for these rows.
    delinquent = training.set_index("application_id").loc[parity_ids[0]]
    assert delinquent["has_delinquency"] == 1
    assert delinquent["months_since_delinquency"] >= 0
    assert delinquent["monthly_payment"] > 0


def test_each_build_commits_one_new_delta_version(built_home: Path) -> None:
    before = version(lake(built_home, "features"))

    result = run_dbt(built_home, "build", "--select", "credit_default_features")

    assert result.returncode == 0, result.stdout[-4000:]
    assert version(lake(built_home, "features")) == before + 1
    # The default mode overwrites: a rebuild does not duplicate rows.
    assert len(read_pandas(lake(built_home, "features"))) == 3000


def test_failing_dbt_test_fails_the_build(tmp_path: Path, raw: pd.DataFrame) -> None:
    bad = raw.copy()
    bad.loc[0, "default_flag"] = 2  # violates accepted_values [0, 1]
    write_table(lake(tmp_path, "raw"), bad)

    result = run_dbt(tmp_path, "build", "--select", "credit_default_features")

    assert result.returncode == 1
    assert "FAIL 1 accepted_values_credit_default_features_default_flag" in result.stdout


def store(tmp_path: Path, rows: dict[str, list], **config: object) -> None:
    """Call the plugin the way dbt-duckdb does, on a parquet file with `rows`."""
    path = tmp_path / f"model_{len(list(tmp_path.glob('model_*')))}.parquet"
    pq.write_table(pa.table(rows), path)
    relation = DuckDBRelation.create(database="memory", schema="main", identifier="m_scores")
    target = TargetConfig(
        relation=relation,
        column_list=[],
        config=config,
        location=TargetLocation(path=str(path), format="parquet"),
    )
    Plugin(name="aurora_delta", plugin_config={}).store(target)


def test_merge_mode_upserts_by_unique_key_in_one_commit(tmp_path: Path) -> None:
    delta_path = str(tmp_path / "scores")
    config = {"delta_path": delta_path, "delta_mode": "merge", "unique_key": "id"}
    store(tmp_path, {"id": [1, 2, 3], "score": [0.1, 0.2, 0.3]}, **config)
    first = version(delta_path)

    store(tmp_path, {"id": [2, 4], "score": [0.9, 0.4]}, **config)

    merged = read_pandas(delta_path).sort_values("id").reset_index(drop=True)
    assert merged.to_dict("list") == {"id": [1, 2, 3, 4], "score": [0.1, 0.9, 0.3, 0.4]}
    assert version(delta_path) == first + 1


def test_append_mode_adds_rows(tmp_path: Path) -> None:
    delta_path = str(tmp_path / "log")
    store(tmp_path, {"id": [1]}, delta_path=delta_path, delta_mode="append")
    store(tmp_path, {"id": [1]}, delta_path=delta_path, delta_mode="append")

    assert len(read_pandas(delta_path)) == 2


def test_empty_model_commits_an_empty_table(tmp_path: Path) -> None:
    # dbt-duckdb writes one all-null row for an empty external model.
    delta_path = str(tmp_path / "empty")
    store(tmp_path, {"id": pa.array([None], pa.int64())}, delta_path=delta_path)

    assert len(read_pandas(delta_path)) == 0


def test_missing_delta_path_names_the_model_and_config_key(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"'m_scores'.*'delta_path'"):
        store(tmp_path, {"id": [1]})


def test_merge_without_unique_key_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"'m_scores'.*'unique_key'"):
        store(tmp_path, {"id": [1]}, delta_path=str(tmp_path / "t"), delta_mode="merge")
