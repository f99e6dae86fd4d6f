"""Seeded sampling of a Spark table into pandas, so distribution statistics stay bounded.

Only the sample crosses into the driver: the full table is never collected. Methods:

- random: a Bernoulli sample (`DataFrame.sample`) of fraction n/N. When an exact `rows` is
  asked for, it oversamples slightly and keeps the n rows with the smallest seeded random key
  (a top-n, not a sort of the table).
- stratified: `DataFrame.sampleBy` on the stratum column (default: the target), with the same
  fraction in every stratum so proportions are kept, except that a stratum smaller than
  `min_per_stratum / fraction` is sampled more (up to all its rows) so rare classes are still
  described; the boosted strata are named in the reason.
- systematic: every k-th row (k = floor(N / n), seeded start in [0, k)) in the order of
  `order_by`. The table is range-partitioned and sorted within partitions on the executors;
  one small aggregate counts rows per partition, so each row's global position is its
  partition's offset plus its position inside the partition, and rows are filtered there.

When neither `rows` nor `fraction` is given, the size comes from Cochran's formula for
estimating a proportion, n0 = z^2 p (1 - p) / e^2 with p = 0.5 (the worst case), corrected for
the finite population: n = n0 / (1 + (n0 - 1) / N). The defaults (e = 1%, 99% confidence) give
16,587 rows for a large table: every share the profile reports from the sample (missing, top
values, outliers) is then within +-1 percentage point of the table's, 99 times in 100.
The same seed on the same data and partitioning returns the same rows.

Given a `TableScan` that can sample by itself (DuckDB over the table's Parquet files, see
full_table.py), the random method and the whole-table case run there instead: a Bernoulli
filter on a seeded hash of each row's file and position (reproducible for the same seed and
files), and for exact `rows` the n smallest such hashes.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, computed_field

from aurora_pipelines.errors import DataError
from aurora_pipelines.specs import SamplingSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from aurora_pipelines.profiling.full_table import TableScan

MAX_STRATA = 1000
OVERSAMPLE = 1.1  # Bernoulli slack so an exact-n random sample rarely comes up short
_NULL = "__null__"


class SamplingInfo(BaseModel):
    """How the sample behind the distribution statistics was drawn, and why this size."""

    method: str  # random | stratified | systematic | full (table not larger than the sample)
    seed: int
    requested_rows: int
    fraction: float
    rows: int
    table_rows: int
    reason: str = ""
    size_rule: dict[str, float] | None = None
    stratify_by: str | None = None
    strata: dict[str, dict[str, int]] | None = None  # value -> {table_rows, sample_rows}
    order_by: str | None = None
    step: int | None = None
    start: int | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def size(self) -> int:
        """Rows in the sample (same as `rows`; the name the CLI's JSON promises)."""
        return self.rows


def sample_size(population: int, margin_of_error: float, confidence: float) -> int:
    """Cochran's sample size for a proportion (p = 0.5), finite-population corrected."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    n0 = z * z * 0.25 / (margin_of_error * margin_of_error)
    return max(1, math.ceil(n0 / (1 + (n0 - 1) / max(population, 1))))


def sample_fraction(table_rows: int, sample_rows: int) -> float:
    """Fraction of rows to keep for a sample of about `sample_rows` rows (1.0 for small tables)."""
    if sample_rows <= 0:
        raise DataError(
            f"sample rows must be positive, got {sample_rows}; "
            "set profiling.sampling.rows to e.g. 20000"
        )
    if table_rows <= sample_rows:
        return 1.0
    return sample_rows / table_rows


def _size(plan: SamplingSpec, table_rows: int) -> tuple[int, str, dict[str, float] | None]:
    if plan.rows is not None:
        return plan.rows, f"{plan.rows:,} rows set in the spec (profiling.sampling.rows)", None
    if plan.fraction is not None:
        n = max(1, math.ceil(plan.fraction * table_rows))
        return n, f"fraction {plan.fraction} set in the spec (profiling.sampling.fraction)", None
    n = sample_size(table_rows, plan.margin_of_error, plan.confidence)
    z = NormalDist().inv_cdf(0.5 + plan.confidence / 2)
    rule = {"margin_of_error": plan.margin_of_error, "confidence": plan.confidence, "z": z}
    reason = (
        f"no size given: Cochran's rule for a proportion within +-{plan.margin_of_error:.1%} at "
        f"{plan.confidence:.0%} confidence (z={z:.3f}, p=0.5, finite-population corrected) "
        f"gives {n:,} rows"
    )
    return n, reason, rule


def _col(name: str) -> Any:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def sample_to_pandas(
    df: DataFrame,
    *,
    table_rows: int,
    plan: SamplingSpec,
    seed: int,
    target: str | None = None,
    id_column: str | None = None,
    scan: TableScan | None = None,
) -> tuple[pd.DataFrame, SamplingInfo]:
    """A seeded sample of `df` in pandas drawn as `plan` says, and how and why it was drawn.

    `scan`: an engine over the same table that may draw random samples itself (see above).
    """
    n, reason, rule = _size(plan, table_rows)
    fraction = sample_fraction(table_rows, n)
    info: dict[str, Any] = {
        "seed": seed,
        "requested_rows": n,
        "fraction": fraction,
        "table_rows": table_rows,
        "size_rule": rule,
    }
    if fraction >= 1.0:
        whole = scan.to_pandas() if scan is not None else None
        sample = df.toPandas() if whole is None else whole
        reason += f"; the table has {table_rows:,} rows, so all of them are used"
        return sample, SamplingInfo(method="full", rows=len(sample), reason=reason, **info)
    if plan.method == "stratified":
        sample, extra = _stratified(df, plan, fraction, seed, target)
    elif plan.method == "systematic":
        sample, extra = _systematic(df, plan, table_rows, n, seed, id_column)
    else:
        drawn = scan.random_sample(fraction, plan.rows, seed) if scan is not None else None
        if drawn is None:
            sample, extra = _random(df, plan, fraction, n, seed)
        else:
            how = "exactly n rows: the n smallest" if plan.rows else "Bernoulli sample on a"
            sample, extra = (
                drawn,
                {"notes": [f"{how} seeded hash of file and row position ({scan.engine})"]},
            )
    reason = "; ".join([reason, *extra.pop("notes", [])])
    return sample, SamplingInfo(
        method=plan.method, rows=len(sample), reason=reason, **info, **extra
    )


def _random(
    df: DataFrame, plan: SamplingSpec, fraction: float, n: int, seed: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    from pyspark.sql import functions as F

    if plan.rows is None:
        return df.sample(withReplacement=False, fraction=fraction, seed=seed).toPandas(), {
            "notes": ["Bernoulli sample: about that many rows"]
        }
    oversampled = df.sample(
        withReplacement=False, fraction=min(1.0, fraction * OVERSAMPLE), seed=seed
    )
    key = "__aurora_sample_key"
    exact = oversampled.withColumn(key, F.rand(seed)).orderBy(key).limit(n).drop(key)
    return exact.toPandas(), {"notes": ["exactly n rows: the n smallest seeded random keys"]}


def _named_column(df: DataFrame, setting: str, column: str | None, unnamed: str) -> str:
    """The column a sampling method works on (`profiling.sampling.<setting>` or its default);
    `unnamed` is the error when neither names one."""
    if not column:
        raise DataError(unnamed)
    if column not in df.columns:
        raise DataError(
            f"profiling.sampling.{setting} '{column}' is not a column of the table; fix it"
        )
    return column


def _stratified(
    df: DataFrame, plan: SamplingSpec, fraction: float, seed: int, target: str | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    from pyspark.sql import functions as F

    column = _named_column(
        df,
        "stratify_by",
        plan.stratify_by or target,
        "stratified sampling needs a column: set profiling.sampling.stratify_by "
        "(or give the experiment a target)",
    )
    key = "__aurora_stratum"
    keyed = df.withColumn(key, F.coalesce(_col(column).cast("string"), F.lit(_NULL)))
    counts_rows = keyed.groupBy(key).count().limit(MAX_STRATA + 1).collect()
    if len(counts_rows) > MAX_STRATA:
        raise DataError(
            f"cannot stratify by '{column}': more than {MAX_STRATA} distinct values; "
            "stratify by a categorical column or use method: random"
        )
    counts = {r[key]: int(r["count"]) for r in counts_rows}
    fractions = {
        value: min(1.0, max(fraction, plan.min_per_stratum / count))
        for value, count in counts.items()
    }
    boosted = sorted(v for v, f in fractions.items() if f > fraction)
    sample = keyed.sampleBy(key, fractions, seed).toPandas()
    got = sample[key].value_counts().to_dict()
    strata = {
        v: {"table_rows": c, "sample_rows": int(got.get(v, 0))} for v, c in sorted(counts.items())
    }
    notes = [f"{len(counts)} strata of '{column}' sampled at fraction {fraction:.4g} each"]
    if boosted:
        notes.append(
            f"strata {', '.join(boosted[:10])} raised to at least {plan.min_per_stratum} rows "
            "(min_per_stratum)"
        )
    return sample.drop(columns=[key]), {"stratify_by": column, "strata": strata, "notes": notes}


def _systematic(
    df: DataFrame,
    plan: SamplingSpec,
    table_rows: int,
    n: int,
    seed: int,
    id_column: str | None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    import random

    from pyspark.sql import functions as F

    order = _named_column(
        df,
        "order_by",
        plan.order_by or id_column,
        "systematic sampling needs an ordering column: set profiling.sampling.order_by "
        "(or the experiment's id_column)",
    )
    step = max(1, table_rows // n)
    start = random.Random(seed).randrange(step)
    pid, pos = "__aurora_pid", "__aurora_pos"
    ranged = (
        df.repartitionByRange(_col(order))
        .sortWithinPartitions(_col(order))
        .withColumn(pid, F.spark_partition_id())
        # monotonically_increasing_id = partition index << 33 + position within the partition.
        .withColumn(pos, F.monotonically_increasing_id() - F.shiftleft(F.col(pid).cast("long"), 33))
    )
    sizes = sorted((r[pid], int(r["count"])) for r in ranged.groupBy(pid).count().collect())
    offsets, running = {}, 0
    for partition, size in sizes:
        offsets[partition] = running
        running += size
    offset = F.create_map(*[F.lit(x) for p, o in offsets.items() for x in (p, o)])
    index = F.element_at(offset, F.col(pid)) + F.col(pos)
    picked = ranged.where((index - F.lit(start)) % F.lit(step) == 0).drop(pid, pos)
    notes = [f"every {step}th row ordered by '{order}', starting at row {start}"]
    return picked.toPandas(), {"order_by": order, "step": step, "start": start, "notes": notes}
