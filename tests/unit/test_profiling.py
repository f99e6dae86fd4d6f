"""Profiling of a real Spark table: inferred types, counts, outliers, quality score, reports."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from aurora_pipelines.errors import SourceError
from aurora_pipelines.profiling import (
    Profile,
    SemanticType,
    profile_table,
    quality,
    stats,
    write_profile_html,
    write_profile_json,
)
from aurora_pipelines.sources.sample_data import generate_credit_data

ROWS = 5000
COMPONENTS = {"completeness", "validity", "uniqueness", "consistency", "outliers"}


@pytest.fixture(scope="module")
def credit_pdf() -> pd.DataFrame:
    return generate_credit_data(ROWS, seed=11)


@pytest.fixture(scope="module")
def credit_df(spark, credit_pdf):
    return spark.createDataFrame(credit_pdf)


@pytest.fixture(scope="module")
def profile(credit_df) -> Profile:
    return profile_table(
        credit_df, target="default_flag", id_column="application_id", sample_rows=3000, seed=7
    )


def test_semantic_types_are_inferred_per_column(profile):
    types = {c.name: c.semantic_type for c in profile.columns}
    assert types["application_id"] is SemanticType.identifier
    assert types["credit_score"] is SemanticType.numeric
    assert types["region"] is SemanticType.categorical
    assert types["has_cosigner"] is SemanticType.boolean
    assert types["application_date"] is SemanticType.datetime
    assert types["default_flag"] is SemanticType.boolean  # a 0/1 integer is binary


def test_missing_share_is_counted_on_the_full_table(profile, credit_pdf):
    employment_years = profile.column("employment_years")
    assert employment_years.count == ROWS
    assert employment_years.missing == int(credit_pdf["employment_years"].isna().sum())
    assert employment_years.missing_pct == pytest.approx(6.0, abs=1.0)
    assert profile.column("credit_score").missing == 0


def test_injected_income_outliers_are_detected(profile):
    income = profile.column("annual_income")
    # generate_credit_data multiplies 1 in 500 incomes by 100.
    assert income.zscore_outliers >= 1
    assert income.iqr_outliers > income.zscore_outliers
    assert income.max > 100 * income.p50
    assert income.quality_breakdown["outliers"] < 100


def test_distribution_statistics_come_from_a_seeded_sample(credit_df, profile):
    assert profile.sampling.method == "random"
    assert profile.sampling.fraction == pytest.approx(3000 / ROWS)
    assert profile.sampling.rows == 3000  # an exact n was asked for
    assert "set in the spec" in profile.sampling.reason
    again = profile_table(
        credit_df, target="default_flag", id_column="application_id", sample_rows=3000, seed=7
    )
    assert again.sampling.rows == profile.sampling.rows
    assert again.column("credit_score").p25 == profile.column("credit_score").p25


def test_table_level_findings(profile):
    assert profile.rows == ROWS and profile.column_count == 20
    assert profile.id_duplicates == 0
    assert profile.constant_columns == []
    assert sum(profile.class_balance.values()) == pytest.approx(1.0)
    assert 0.05 < profile.class_balance["1"] < 0.3
    # Risk falls with the credit score: the point-biserial correlation is negative.
    credit = profile.column("credit_score")
    assert credit.association_method == "point_biserial" and credit.target_association < -0.1
    assert profile.column("region").association_method == "cramers_v"
    assert profile.correlations["credit_score"]["interest_rate"] < -0.5
    assert "application_id" not in profile.correlations


def test_quality_score_is_bounded_with_a_full_breakdown(profile):
    assert 0 <= profile.quality_score <= 100
    assert set(profile.quality_breakdown) == COMPONENTS
    assert profile.failing_components(0) == []
    assert set(profile.failing_components(100.01)) == COMPONENTS
    for column in profile.columns:
        assert 0 <= column.quality_score <= 100
    # Uniqueness only applies to the id column; outliers only to numeric columns.
    assert "uniqueness" in profile.column("application_id").quality_breakdown
    assert "uniqueness" not in profile.column("region").quality_breakdown
    assert "outliers" not in profile.column("region").quality_breakdown


def test_quality_score_drops_when_many_nulls_are_injected(spark, credit_pdf, profile):
    damaged = credit_pdf.copy()
    rng = np.random.default_rng(0)
    for column in [
        "annual_income",
        "credit_score",
        "region",
        "loan_amount",
        "interest_rate",
        "age",
        "loan_purpose",
        "debt_to_income",
    ]:
        mask = rng.random(len(damaged)) < 0.6
        damaged[column] = damaged[column].astype("object").where(~mask, None)
        if column not in ("region", "loan_purpose"):
            damaged[column] = damaged[column].astype("float64")
    worse = profile_table(
        spark.createDataFrame(damaged),
        target="default_flag",
        id_column="application_id",
        sample_rows=3000,
        seed=7,
    )
    assert worse.quality_score < profile.quality_score - 5
    assert worse.quality_breakdown["completeness"] < profile.quality_breakdown["completeness"] - 15
    assert "completeness" in worse.failing_components(80)
    assert worse.column("region").missing_pct == pytest.approx(60, abs=3)


def test_duplicate_ids_lower_uniqueness(spark, credit_df, profile):
    with_duplicates = credit_df.union(credit_df.limit(250))
    result = profile_table(
        with_duplicates, target=None, id_column="application_id", sample_rows=3000, seed=7
    )
    assert result.id_duplicates == 250
    assert result.column("application_id").quality_breakdown["uniqueness"] < 100
    assert result.quality_breakdown["uniqueness"] < profile.quality_breakdown["uniqueness"]
    assert result.class_balance is None


def test_numbers_stored_as_text_are_numeric_and_unparseable_values_invalid(spark):
    values = [str(round(v, 2)) for v in np.random.default_rng(1).normal(100, 10, 400)]
    values[:20] = ["n/a"] * 20
    df = spark.createDataFrame(
        pd.DataFrame({"amount": values, "flag": ["yes", "no"] * 200, "constant": ["x"] * 400})
    )
    result = profile_table(df, target=None, id_column=None, sample_rows=1000, seed=1)
    amount = result.column("amount")
    assert amount.semantic_type is SemanticType.numeric
    assert amount.invalid == 20 and amount.quality_breakdown["validity"] == pytest.approx(95.0)
    assert amount.min == pytest.approx(float(min(float(v) for v in values[20:])))
    assert result.column("flag").semantic_type is SemanticType.boolean
    assert result.constant_columns == ["constant"]
    assert result.column("constant").quality_breakdown["consistency"] == 0


def test_case_variants_of_a_category_lower_consistency(spark):
    regions = ["north"] * 300 + ["North"] * 30 + ["south "] * 10 + ["south"] * 260
    result = profile_table(
        spark.createDataFrame(pd.DataFrame({"region": regions})),
        target=None,
        id_column=None,
        sample_rows=1000,
        seed=1,
    )
    region = result.column("region")
    assert region.semantic_type is SemanticType.categorical
    assert region.quality_breakdown["consistency"] == pytest.approx(100 * (1 - 40 / 600), abs=0.01)


def test_unknown_target_is_a_source_error_naming_the_column(credit_df):
    with pytest.raises(SourceError, match="target 'defaulted' is not a column"):
        profile_table(credit_df, target="defaulted", id_column=None, sample_rows=100, seed=1)


def test_profile_serialises_to_json_and_a_ui_frame(profile, tmp_path):
    payload = profile.to_dict()
    json.dumps(payload, allow_nan=False)  # strict JSON: no NaN anywhere
    frame = profile.columns_frame()
    assert len(frame) == profile.column_count
    assert {"name", "semantic_type", "missing_pct", "quality_score", "quality_completeness"} <= set(
        frame.columns
    )
    path = write_profile_json(profile, tmp_path / "profile.json")
    assert json.loads(path.read_text())["quality_score"] == profile.quality_score


def test_html_report_is_self_contained(profile, tmp_path):
    path = write_profile_html(profile, tmp_path / "eda" / "profile.html")
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<table>" in html and "annual_income" in html and "Quality breakdown" in html
    assert "<script" not in html and "<link" not in html
    # Plots are inline PNGs: every src is a data URI, nothing is fetched.
    sources = re.findall(r"src='([^']*)'", html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "Missing values" in html and "Spearman correlation" in html


def test_weighted_score_renormalises_over_applicable_components():
    # 100 * (0.35 * 0.5 + 0.25 * 1.0) / (0.35 + 0.25)
    assert quality.weighted_score({"completeness": 0.5, "validity": 1.0}) == pytest.approx(70.83)
    assert quality.weighted_score(dict.fromkeys(COMPONENTS, 1.0)) == 100.0
    assert sum(quality.WEIGHTS.values()) == pytest.approx(1.0)


def test_cramers_v_is_one_for_a_determined_pair_and_near_zero_for_independent():
    rng = np.random.default_rng(3)
    x = pd.Series(rng.choice(list("abc"), 3000))
    assert stats.cramers_v(x, x.map({"a": 0, "b": 1, "c": 2})) == pytest.approx(1.0, abs=1e-3)
    noise = stats.cramers_v(x, pd.Series(rng.choice([0, 1], 3000)))
    assert noise is not None and noise < 0.05
    assert math.isclose(stats.pearson(pd.Series([1.0, 2, 3]), pd.Series([2.0, 4, 6])), 1.0)


def test_metadata_views_embed_the_histograms_and_tabulate_the_quality_breakdown(profile):
    """What the Dagster UI shows of a profile: images inline (data URIs), tables as Markdown."""
    import base64

    from aurora_pipelines.profiling.plots import metadata_views

    views = metadata_views(profile)
    image = re.search(
        r"!\[Distributions \(sample\)\]\(data:image/png;base64,([^)]+)\)", views["histograms_plot"]
    )
    assert image and base64.b64decode(image.group(1)).startswith(b"\x89PNG")
    for component in profile.quality_breakdown:
        assert f"| {component} |" in views["quality_breakdown_table"]
    if profile.warnings:
        assert profile.warnings[0].replace("|", "\\|") in views["top_warnings"]
