"""The full-table pass on DuckDB (over the Parquet files) agrees with the Spark pass."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from aurora_pipelines.lake import delta
from aurora_pipelines.profiling import SemanticType, profile_table
from aurora_pipelines.profiling.experiment import read_delta_input
from aurora_pipelines.profiling.full_table import DuckDBScan, SparkScan, table_scan
from aurora_pipelines.profiling.sampling import sample_to_pandas
from aurora_pipelines.specs import SamplingSpec

ROWS = 3000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ids = np.arange(ROWS)
    ids[:5] = 0  # 4 duplicate ids
    amount = rng.lognormal(3, 1, ROWS)
    amount[rng.random(ROWS) < 0.05] = np.nan
    amount[:3] = [np.inf, -np.inf, np.inf]
    count = pd.array(rng.poisson(4, ROWS), dtype="Int64")
    count[rng.random(ROWS) < 0.1] = pd.NA
    plan = rng.choice(["basic", "plus", "pro", " "], ROWS, p=[0.5, 0.3, 0.19, 0.01])
    return pd.DataFrame(
        {
            "customer_id": ids,
            "amount": amount,
            "visits": count,
            "plan": plan,
            "email": [f"user{i}@example.com" for i in range(ROWS)],
            "active": rng.random(ROWS) < 0.6,
            "signup": [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in ids % 300],
            "seen_at": pd.Timestamp("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 10**7, ROWS), "s"),
            "churned": (rng.random(ROWS) < 0.2).astype("int64"),
        }
    )


@pytest.fixture(scope="module")
def parquet(tmp_path_factory, frame):
    path = tmp_path_factory.mktemp("engines") / "table.parquet"
    frame.to_parquet(path, index=False, coerce_timestamps="us")
    return path


@pytest.fixture(scope="module")
def df(spark, parquet):
    return spark.read.parquet(str(parquet))


@pytest.fixture(scope="module")
def profiles(df, parquet):
    kwargs = {"target": "churned", "id_column": "customer_id", "sample_rows": 1000, "seed": 5}
    return (
        profile_table(df, files=[parquet.as_uri()], **kwargs),
        profile_table(df, **kwargs),
    )


def test_duckdb_is_used_only_for_plain_local_file_reads(df, parquet):
    assert isinstance(table_scan(df, [parquet.as_uri()]), DuckDBScan)
    assert isinstance(table_scan(df), SparkScan)
    assert isinstance(table_scan(df, ["s3://bucket/table.parquet"]), SparkScan)  # remote
    derived = df.withColumn("double_amount", df["amount"] * 2)
    assert isinstance(table_scan(derived, [parquet.as_uri()]), SparkScan)  # not in the files


def test_duckdb_and_spark_profiles_agree(profiles, frame):
    duck, spark = profiles
    assert (duck.full_table_engine, spark.full_table_engine) == ("duckdb", "spark")
    assert duck.rows == spark.rows == ROWS
    assert duck.id_duplicates == spark.id_duplicates == 4
    assert duck.class_balance == spark.class_balance
    for d in duck.columns:
        s = spark.column(d.name)
        assert d.semantic_type is s.semantic_type, d.name
        assert (d.non_null, d.missing, d.invalid) == (s.non_null, s.missing, s.invalid), d.name
        assert d.min == s.min and d.max == s.max, d.name
        for stat in ("mean", "std"):
            left, right = getattr(d, stat), getattr(s, stat)
            assert left == pytest.approx(right, rel=1e-9) if right is not None else left is None
        assert d.categories == s.categories, d.name
        # Both distinct counts are HyperLogLog estimates within their stated error.
        exact = frame[d.name].dropna().nunique()
        assert d.distinct == pytest.approx(exact, rel=3 * duck.approx_distinct_rsd, abs=1)
    assert duck.column("amount").invalid == 3  # inf and -inf
    assert duck.column("plan").invalid == int((frame["plan"].str.strip() == "").sum())
    assert duck.column("plan").min is None  # no lexicographic string extremes
    assert duck.column("signup").min == "2024-01-01"
    assert duck.column("seen_at").semantic_type is SemanticType.datetime
    assert duck.column("active").categories == ["false", "true"]
    assert abs(duck.quality_score - spark.quality_score) < 1.0


def test_duckdb_skew_is_the_full_table_skew(profiles, frame):
    duck, _ = profiles
    finite = frame["amount"].replace([np.inf, -np.inf], np.nan).dropna()
    assert duck.column("amount").skew == pytest.approx(finite.skew(), rel=1e-6)


def test_duckdb_random_sample_is_exact_and_reproducible(df, parquet):
    scan = table_scan(df, [parquet.as_uri()])
    plan = SamplingSpec(rows=400)
    first, info = sample_to_pandas(df, table_rows=ROWS, plan=plan, seed=3, scan=scan)
    again, _ = sample_to_pandas(df, table_rows=ROWS, plan=plan, seed=3, scan=scan)
    other, _ = sample_to_pandas(df, table_rows=ROWS, plan=plan, seed=4, scan=scan)
    assert len(first) == info.rows == 400 and "duckdb" in info.reason
    assert list(first.columns) == list(df.columns)
    assert sorted(first["email"]) == sorted(again["email"])
    assert sorted(first["email"]) != sorted(other["email"])
    bernoulli, info = sample_to_pandas(
        df, table_rows=ROWS, plan=SamplingSpec(fraction=0.2), seed=3, scan=scan
    )
    assert abs(len(bernoulli) - 600) < 90 and info.method == "random"
    # Stratified sampling stays on Spark even with a DuckDB scan.
    strat, info = sample_to_pandas(
        df,
        table_rows=ROWS,
        plan=SamplingSpec(method="stratified", fraction=0.2),
        seed=3,
        target="churned",
        scan=scan,
    )
    assert info.stratify_by == "churned" and "duckdb" not in info.reason


def test_duckdb_sample_has_sparks_pandas_types(df, parquet):
    scan = table_scan(df, [parquet.as_uri()])
    mine = scan.to_pandas()
    theirs = df.toPandas()
    assert list(mine.dtypes.astype(str)) == list(theirs.dtypes.astype(str))
    assert mine["signup"].iloc[0] == theirs["signup"].iloc[0]


def test_delta_input_is_profiled_on_duckdb(spark, tmp_path, frame):
    path = tmp_path / "raw"
    delta.write_table(path, frame.iloc[:1000])
    delta.write_table(path, frame.iloc[1000:], mode="append")
    found = read_delta_input(spark, path)
    assert found.files is not None and len(found.files) == 2
    profile = profile_table(found.df, files=found.files, target="churned", sample_rows=500)
    assert profile.full_table_engine == "duckdb" and profile.rows == ROWS
    assert profile.sampling.rows == 500
