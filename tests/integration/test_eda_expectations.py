"""Expectation suites from a profile, the raw assets' blocking check, and `aurora profile`."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from aurora_pipelines.cli import main
from aurora_pipelines.profiling import profile_table
from aurora_pipelines.profiling.expectations import build_suite, validate_frame
from aurora_pipelines.sources.sample_data import generate_credit_data
from tests.factories import cli_workspace


@pytest.fixture(scope="module")
def credit_profile(spark):
    frame = generate_credit_data(3000, seed=21)
    return frame, profile_table(
        spark.createDataFrame(frame),
        target="default_flag",
        id_column="application_id",
        sample_rows=2000,
    )


def test_suite_covers_types_nulls_ranges_and_category_sets(credit_profile):
    _, profile = credit_profile
    suite = build_suite(profile, "credit.raw")
    by = {(e["type"], e["kwargs"].get("column")): e for e in suite["expectations"]}
    assert ("expect_column_values_to_be_in_type_list", "age") in by
    assert "mostly" not in by[("expect_column_values_to_not_be_null", "credit_score")]["kwargs"]
    assert by[("expect_column_values_to_not_be_null", "employment_years")]["kwargs"]["mostly"] < 1
    age = by[("expect_column_values_to_be_between", "age")]["kwargs"]
    low, high = profile.column("age").min, profile.column("age").max
    assert (age["min_value"], age["max_value"]) == (
        math.floor(low - 0.1 * (high - low)),
        math.ceil(high + 0.1 * (high - low)),
    )
    regions = by[("expect_column_values_to_be_in_set", "region")]["kwargs"]["value_set"]
    assert regions == ["central", "east", "north", "south", "west"]
    assert by[("expect_column_values_to_be_in_set", "has_cosigner")]["kwargs"]["value_set"] == [
        False,
        True,
    ]
    assert ("expect_column_values_to_be_unique", "application_id") in by
    assert by[("expect_column_values_to_be_in_type_list", "default_flag")]["meta"] == {
        "role": "target"
    }
    (columns,) = [e for e in suite["expectations"] if "column" not in e["kwargs"]]
    assert "age" in columns["kwargs"]["column_set"]
    assert "default_flag" not in columns["kwargs"]["column_set"]


def test_batch_like_the_training_data_passes_and_a_broken_one_fails_with_examples(
    credit_profile,
):
    frame, profile = credit_profile
    suite = build_suite(profile, "credit.raw")
    assert validate_frame(generate_credit_data(1500, seed=22), suite).success
    broken = generate_credit_data(1500, seed=23)
    broken.loc[:40, "region"] = "Atlantis"
    broken.loc[:30, "age"] = -4
    broken = broken.drop(columns=["loan_purpose"])
    result = validate_frame(broken, suite)
    failed = {(f.expectation, f.column): f for f in result.failed}
    assert not result.success
    assert failed[("expect_column_values_to_be_in_set", "region")].examples == ["Atlantis"]
    assert failed[("expect_column_values_to_be_between", "age")].examples == ["-4"]
    missing = failed[("expect_table_columns_to_match_set", None)]
    assert missing.examples == ["loan_purpose"]


def test_scoring_batch_without_the_target_skips_target_expectations(credit_profile):
    _, profile = credit_profile
    batch = generate_credit_data(1000, seed=24, drift=True).drop(columns=["default_flag"])
    suite = build_suite(profile, "credit.raw")
    assert not validate_frame(batch, suite).success  # the target is missing
    assert validate_frame(batch, suite, skip_roles=("target",)).success


# --- through the CLI and Dagster --------------------------------------------------------------


@pytest.fixture
def loans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aurora_home: Path, spark):
    cli_workspace(tmp_path, monkeypatch)
    csv = tmp_path / "loans_eda.csv"
    generate_credit_data(1200, seed=31).to_csv(csv, index=False)
    main(
        ["experiments", "create", "loans_eda", "--source", str(csv), "--target", "default_flag"]
        + ["--id-column", "application_id"]
    )
    yield csv
    shutil.rmtree(aurora_home / "expectations" / "loans_eda", ignore_errors=True)
    shutil.rmtree(aurora_home / "reports" / "loans_eda", ignore_errors=True)
    shutil.rmtree(aurora_home / "lake" / "loans_eda", ignore_errors=True)


def test_aurora_profile_prints_a_summary_and_the_latest_profile_as_json(loans, capsys):
    main(["profile", "loans_eda"])
    out = capsys.readouterr().out
    assert "1,200 rows x 20 columns" in out and "quality score" in out and "report:" in out
    main(["profile", "loans_eda", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert 0 <= data["quality_score"] <= 100
    assert set(data["quality_breakdown"]) >= {"completeness", "validity", "outliers"}
    # No size in the spec: Cochran's rule (finite-population corrected) picks one below 1,200.
    assert data["sampling"]["method"] == "random" and 900 < data["sampling"]["size"] < 1200
    assert "Cochran" in data["sampling"]["reason"]
    assert data["rows"] == 1200
    credit = next(c for c in data["columns"] if c["name"] == "credit_score")
    assert credit["semantic_type"] == "numeric" and credit["mean"] > 0 and credit["histogram"]


def test_raw_batch_breaking_the_suite_fails_the_blocking_check(loans, capsys, aurora_home):
    import dagster as dg

    from aurora_pipelines.defs.assets.raw import EXPECTATIONS_CHECK, build_raw_assets
    from aurora_pipelines.defs.resources import build_resources
    from aurora_pipelines.settings import get_settings
    from aurora_pipelines.specs import find_spec

    settings = get_settings()
    spec = find_spec(settings.experiments_dir, "loans_eda")
    main(["profile", "loans_eda"])  # writes the suite from the source
    raw = build_raw_assets(spec)[0]
    resources = build_resources(settings)

    first = dg.materialize([raw], resources=resources, raise_on_error=False)
    (evaluation,) = first.get_asset_check_evaluations()
    assert evaluation.check_name == EXPECTATIONS_CHECK and evaluation.passed

    broken = generate_credit_data(1200, seed=32)
    broken.loc[:100, "home_ownership"] = "CASTLE"
    broken.to_csv(loans, index=False)
    second = dg.materialize([raw], resources=resources, raise_on_error=False)
    (evaluation,) = second.get_asset_check_evaluations()
    assert not evaluation.passed
    failed = evaluation.metadata["failed_expectations"].value
    assert failed[0]["column"] == "home_ownership" and failed[0]["examples"] == ["CASTLE"]


def test_aurora_profile_of_the_raw_delta_table_runs_on_duckdb(loans, capsys, aurora_home):
    import dagster as dg

    from aurora_pipelines.defs.assets.raw import build_raw_assets
    from aurora_pipelines.defs.resources import build_resources
    from aurora_pipelines.settings import get_settings
    from aurora_pipelines.specs import find_spec

    settings = get_settings()
    spec = find_spec(settings.experiments_dir, "loans_eda")
    # Earlier tests in the session may have materialized raw; this one starts without it.
    shutil.rmtree(settings.lake_dir / "loans_eda" / "raw", ignore_errors=True)
    main(["profile", "loans_eda"])  # no raw table yet: the source, on Spark
    capsys.readouterr()
    main(["profile", "loans_eda", "--json"])  # prints the latest profile
    from_source = json.loads(capsys.readouterr().out)
    resources = build_resources(settings)
    raw = dg.materialize(build_raw_assets(spec)[:1], resources=resources, raise_on_error=False)
    assert raw.success
    main(["profile", "loans_eda"])
    capsys.readouterr()
    main(["profile", "loans_eda", "--json"])
    from_raw = json.loads(capsys.readouterr().out)
    assert (from_source["full_table_engine"], from_raw["full_table_engine"]) == ("spark", "duckdb")
    assert from_raw["rows"] == from_source["rows"] == 1200
    for key in ("quality_score", "quality_breakdown", "sampling", "columns"):
        assert key in from_raw
    assert {"method", "size", "reason"} <= set(from_raw["sampling"])
    spark_cols = {c["name"]: c for c in from_source["columns"]}
    for column in from_raw["columns"]:
        other = spark_cols[column["name"]]
        assert column["semantic_type"] == other["semantic_type"], column["name"]
        assert column["missing"] == other["missing"], column["name"]
        if other["mean"] is not None:
            assert column["mean"] == pytest.approx(other["mean"], rel=1e-9), column["name"]
