"""Profile a Spark table: full-table counts in one aggregate pass, distributions from a sample.

What comes from where (so a reader knows which numbers are exact):
- full table, one aggregate pass (`full_table.py`: DuckDB over the Parquet files when the
  caller passes the files the DataFrame reads, e.g. a Delta snapshot, else Spark `agg`): rows;
  per column non-null count, approximate distinct count (HyperLogLog; its relative error is in
  `approx_distinct_rsd`), min/max (not for strings), mean/std (numeric and boolean), skewness
  (DuckDB only), NaN/inf count (floating), blank-string count (strings), and the exact distinct
  count of the id column (duplicate ids must be exact).
- full table, small extra aggregates: the class balance of a categorical target, and the exact
  category set of columns with at most CATEGORY_SET_MAX distinct values (for the expectation
  suite).
- seeded sample (`sampling.py`: random, stratified or systematic): quantiles, histograms, IQR and
  z-score outliers, top values, string shapes (numbers/dates stored as text), case variants,
  duplicate rows, target associations, leakage hints, the Pearson, Spearman and Cramér's V
  matrices, and skewness when the engine did not give it.
Columns of types the profile cannot describe (arrays, maps, structs, binary) are counted
(non-null) and listed in `warnings`, never sampled.
Quality score and breakdown: see `quality.py`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pandas as pd
from pydantic import BaseModel, Field

from aurora_pipelines.errors import DataError, SourceError
from aurora_pipelines.profiling import quality, stats
from aurora_pipelines.profiling.full_table import (
    SPARK_APPROX_RSD,
    TableScan,
    field_kind,
    table_scan,
)
from aurora_pipelines.profiling.sampling import SamplingInfo, sample_to_pandas
from aurora_pipelines.specs import SamplingSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

ID_NAME = re.compile(r"(^|_)(id|key|uuid|guid)$", re.IGNORECASE)
BOOLEAN_WORDS = {"true", "false", "yes", "no", "y", "n", "t", "f", "0", "1"}
CATEGORICAL_MAX_DISTINCT = 1000
CATEGORICAL_MAX_RATIO = 0.5  # more distinct values than half the rows: not a category
IDENTIFIER_MIN_RATIO = 0.95  # share of distinct values in the sample for an inferred id
CLASS_TARGET_MAX_DISTINCT = 10  # an integral target with at most this many values is a class
CATEGORY_SET_MAX = 50  # exact category sets are collected up to this many distinct values
MATRIX_MAX_COLUMNS = 30  # Spearman / Cramér's V matrices over at most this many columns
LEAKAGE_MIN = 0.95  # an association this strong with the target is suspicious
LEAKAGE_AUC_MIN = 0.99  # a single feature separating a binary target this well, too


class SemanticType(StrEnum):
    numeric = "numeric"
    categorical = "categorical"
    boolean = "boolean"
    datetime = "datetime"
    text = "text"
    identifier = "identifier"
    other = "other"  # arrays, maps, structs, binary: counted, not described


Scalar = bool | int | float | str | None


class TopValue(BaseModel):
    value: str
    count: int
    pct: float


class ColumnProfile(BaseModel):
    """Everything known about one column; `*_pct` are percentages (0-100)."""

    name: str
    spark_type: str
    semantic_type: SemanticType
    count: int = Field(description="Rows in the table.")
    non_null: int
    missing: int
    missing_pct: float
    distinct: int = Field(description="Approximate distinct non-null values (full table).")
    distinct_pct: float
    is_constant: bool
    invalid: int = Field(description="NaN/inf, blank or unparseable values (may be estimated).")
    invalid_pct: float
    min: Scalar = None
    max: Scalar = None
    mean: float | None = None
    std: float | None = None
    p01: float | None = None
    p25: float | None = None
    p50: float | None = None
    p75: float | None = None
    p99: float | None = None
    iqr_outliers: int | None = None
    iqr_outlier_pct: float | None = None
    zscore_outliers: int | None = None
    zscore_outlier_pct: float | None = None
    top_values: list[TopValue] = Field(default_factory=list)
    skew: float | None = Field(
        default=None, description="Skewness, bias-corrected (full table on DuckDB, else sample)."
    )
    histogram: dict[str, Any] | None = Field(
        default=None, description="Sample histogram: edges, counts, below/above the p01-p99 range."
    )
    categories: list[str] | None = Field(
        default=None, description="Exact category set (full table) when small."
    )
    target_association: float | None = None
    association_method: str | None = None
    quality_score: float
    quality_breakdown: dict[str, float]
    notes: list[str] = Field(default_factory=list)


class Profile(BaseModel):
    """A table profile: columns, table-level findings, and the data-quality score (0-100)."""

    rows: int
    column_count: int
    columns: list[ColumnProfile]
    target: str | None
    id_column: str | None
    duplicate_rows: int = Field(description="In the sample; the id column is ignored.")
    duplicate_rows_pct: float
    duplicates_basis: str = "sample"
    id_duplicates: int | None = None
    constant_columns: list[str]
    class_balance: dict[str, float] | None = Field(
        default=None, description="Share of rows per target value (full table)."
    )
    correlations: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Pearson correlation of numeric columns (sample)."
    )
    spearman: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Spearman rank correlation of numeric columns (sample)."
    )
    cramers_v: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Bias-corrected Cramér's V of categoricals (sample)."
    )
    leakage_hints: list[dict[str, Any]] = Field(
        default_factory=list, description="Features that predict the target almost perfectly."
    )
    warnings: list[str] = Field(default_factory=list)
    quality_score: float
    quality_breakdown: dict[str, float]
    quality_weights: dict[str, float] = Field(default_factory=lambda: dict(quality.WEIGHTS))
    sampling: SamplingInfo
    approx_distinct_rsd: float = SPARK_APPROX_RSD
    full_table_engine: str = Field(
        default="spark", description="What computed the full-table pass: spark or duckdb."
    )
    profiled_at: str

    def failing_components(self, threshold: float) -> list[str]:
        """Table-level quality components scoring below `threshold` (0-100 scale)."""
        return [name for name, score in self.quality_breakdown.items() if score < threshold]

    def column(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (no NaN: undefined statistics are None)."""
        return self.model_dump(mode="json")

    def columns_frame(self) -> pd.DataFrame:
        """One row per column, flat, for a UI table."""
        rows = []
        for c in self.columns:
            row = c.model_dump(mode="json", exclude={"top_values", "quality_breakdown", "notes"})
            row["top_values"] = ", ".join(f"{t.value} ({t.pct:.1f}%)" for t in c.top_values[:5])
            row.update({f"quality_{k}": v for k, v in c.quality_breakdown.items()})
            row["notes"] = "; ".join(c.notes)
            rows.append(row)
        return pd.DataFrame(rows)

    def correlation_frame(self) -> pd.DataFrame:
        names = list(self.correlations)
        return pd.DataFrame(
            [[self.correlations[r].get(c) for c in names] for r in names],
            index=names,
            columns=names,
        )

    def summary(self) -> dict[str, float | int | str]:
        """Flat headline numbers (e.g. for asset metadata)."""
        out: dict[str, float | int | str] = {
            "rows": self.rows,
            "columns": self.column_count,
            "quality_score": self.quality_score,
            "duplicate_rows_sample": self.duplicate_rows,
            "constant_columns": len(self.constant_columns),
            "sample_rows": self.sampling.rows,
        }
        out.update({f"quality_{k}": v for k, v in self.quality_breakdown.items()})
        return out


def profile_table(
    df: DataFrame,
    *,
    target: str | None = None,
    id_column: str | None = None,
    sample_rows: int | None = None,
    seed: int = 42,
    sampling: SamplingSpec | None = None,
    progress: Callable[[str], None] | None = None,
    files: list[str] | None = None,
) -> Profile:
    """Profile `df`: one aggregate pass over the full table, distributions from a seeded sample.

    `sampling` says how the sample is drawn (default: random, size from the rule in
    sampling.py); `sample_rows` is a shorthand for its size. `progress` is called with the
    name of each stage as it starts. `files`: the Parquet files `df` reads unchanged (e.g.
    `lake.delta.file_uris`), so the full-table pass and a random sample run on DuckDB.
    """
    step = progress or (lambda _stage: None)
    plan = sampling or SamplingSpec()
    if sample_rows is not None and plan.rows is None and plan.fraction is None:
        plan = plan.model_copy(update={"rows": sample_rows})
    for role, name in (("target", target), ("id column", id_column)):
        if name is not None and name not in df.columns:
            raise SourceError(
                f"{role} '{name}' is not a column of the table (columns: "
                f"{', '.join(df.columns[:20])}{', ...' if len(df.columns) > 20 else ''}); "
                f"fix the spec's `{'target' if role == 'target' else 'id_column'}`"
            )
    fields = df.schema.fields
    if not fields:
        raise DataError("cannot profile a table with no columns; check the source definition")

    unsupported = [f for f in fields if _kind(f) == "other"]
    warnings = [
        f"column '{f.name}' ({f.dataType.simpleString()}) is not profiled: unsupported type "
        "(only its non-null count is reported)"
        for f in unsupported
    ]
    if target is not None and target in {f.name for f in unsupported}:
        raise DataError(
            f"target '{target}' has an unsupported type; cast it to a number or string first"
        )

    scan = table_scan(df, files)
    step(f"full-table statistics ({scan.engine})")
    full = scan.aggregate(id_column)
    rows = int(full["rows"])
    if rows == 0:
        raise DataError("cannot profile an empty table (0 rows); load data into the source first")
    step(f"sampling ({plan.method})")
    supported = df.select(*[_col(f.name) for f in fields if _kind(f) != "other"])
    sample, sampling = sample_to_pandas(
        supported,
        table_rows=rows,
        plan=plan,
        seed=seed,
        target=target,
        id_column=id_column,
        scan=scan if not unsupported else None,
    )
    for f in unsupported:
        sample[f.name] = pd.Series([None] * len(sample), dtype="object", index=sample.index)
    sample = sample[[f.name for f in fields]]
    for f in fields:  # parsing dates is slow: the shape of each text column is found once
        if _kind(f) == "string":
            full[f.name]["shape"] = stats.string_shape(sample[f.name])

    semantic = {
        f.name: _infer_semantic_type(f, full[f.name], sample[f.name], id_column) for f in fields
    }
    target_kind = _target_kind(target, semantic, full) if target else None
    step("category sets")
    _collect_categories(scan, fields, semantic, full)

    step("column statistics")
    columns = [
        _profile_column(
            f, full[f.name], sample, semantic[f.name], rows, target, target_kind, id_column
        )
        for f in fields
    ]

    dedup_columns = [c for c in sample.columns if c != id_column]
    duplicates = stats.duplicate_rows(sample[dedup_columns]) if dedup_columns else 0
    duplicate_share = duplicates / len(sample) if len(sample) else 0.0
    id_profile = next((c for c in columns if c.name == id_column), None)
    id_uniqueness = (
        id_profile.quality_breakdown.get("uniqueness", 100.0) / 100.0 if id_profile else None
    )
    numeric = [c for c in columns if c.semantic_type is SemanticType.numeric]
    categorical = [
        c.name
        for c in columns
        if c.semantic_type in (SemanticType.categorical, SemanticType.boolean)
    ]
    warnings += _column_warnings(columns, id_column)
    step("correlations")
    numeric_names = [c.name for c in numeric][:MATRIX_MAX_COLUMNS]
    components = quality.table_components(
        rows=rows,
        missing=[c.missing for c in columns],
        invalid=[c.invalid for c in columns],
        consistency=[c.quality_breakdown["consistency"] / 100.0 for c in columns],
        outliers=[
            c.quality_breakdown["outliers"] / 100.0
            for c in numeric
            if "outliers" in c.quality_breakdown
        ],
        duplicate_row_share=duplicate_share,
        id_uniqueness=id_uniqueness,
    )

    return Profile(
        rows=rows,
        column_count=len(fields),
        columns=columns,
        target=target,
        id_column=id_column,
        duplicate_rows=duplicates,
        duplicate_rows_pct=round(100.0 * duplicate_share, 4),
        id_duplicates=(
            id_profile.non_null - full[id_column]["distinct_exact"] if id_profile else None
        ),
        constant_columns=[c.name for c in columns if c.is_constant],
        class_balance=scan.value_shares(target, rows)
        if target and target_kind in ("binary", "categorical")
        else None,
        correlations=stats.correlation_matrix(sample, [c.name for c in numeric]),
        spearman=stats.correlation_matrix(sample, numeric_names, method="spearman"),
        cramers_v=stats.cramers_v_matrix(sample, categorical[:MATRIX_MAX_COLUMNS]),
        leakage_hints=_leakage_hints(sample, columns, target, target_kind),
        warnings=warnings,
        quality_score=quality.weighted_score(components),
        quality_breakdown=quality.as_percent(components),
        sampling=sampling,
        approx_distinct_rsd=scan.approx_rsd,
        full_table_engine=scan.engine,
        profiled_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


# --- full-table aggregate pass ---------------------------------------------------------------


def _col(name: str) -> Any:
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


_kind = field_kind


def _collect_categories(
    scan: TableScan, fields: list[Any], semantic: dict[str, SemanticType], full: dict[str, Any]
) -> None:
    """Exact category sets of small categoricals, in one extra aggregate (stored in `full`)."""
    small = [
        f.name
        for f in fields
        if semantic[f.name] in (SemanticType.categorical, SemanticType.boolean)
        and int(full[f.name].get("distinct") or 0) <= CATEGORY_SET_MAX
    ]
    for name, values in scan.category_sets(small).items():
        full[name]["categories"] = values


# --- per-column profile ----------------------------------------------------------------------


def _infer_semantic_type(
    field: Any, full: dict[str, Any], sample: pd.Series, id_column: str | None
) -> SemanticType:
    kind = _kind(field)
    distinct = int(full.get("distinct") or 0)
    non_null_sample = sample.dropna()

    def sample_ratio() -> float:  # share of distinct values in the sample (only when needed)
        if len(non_null_sample) < 20:
            return 0.0
        return non_null_sample.astype(str).nunique() / len(non_null_sample)

    if field.name == id_column:
        return SemanticType.identifier
    if kind == "other":
        return SemanticType.other
    if kind == "bool":
        return SemanticType.boolean
    if kind == "date":
        return SemanticType.datetime
    if kind in ("float", "integral", "decimal"):
        if distinct <= 2 and {_as_float(full.get("min")), _as_float(full.get("max"))} <= {0.0, 1.0}:
            return SemanticType.boolean
        if (
            kind == "integral"
            and ID_NAME.search(field.name)
            and sample_ratio() >= IDENTIFIER_MIN_RATIO
        ):
            return SemanticType.identifier
        return SemanticType.numeric
    # Strings: what they hold decides.
    shape, _ = full.get("shape") or stats.string_shape(sample)
    if shape == "number":
        return SemanticType.numeric
    if shape == "date":
        return SemanticType.datetime
    text = non_null_sample.astype(str)
    words = set(pd.Series(text.unique()).str.strip().str.lower())
    if 0 < len(words) <= 2 and words <= BOOLEAN_WORDS:
        return SemanticType.boolean
    if sample_ratio() >= IDENTIFIER_MIN_RATIO:
        has_spaces = text.str.strip().str.contains(r"\s").mean() if len(text) else 0.0
        return SemanticType.text if has_spaces > 0.05 else SemanticType.identifier
    non_null = int(full.get("non_null") or 0)
    if distinct <= CATEGORICAL_MAX_DISTINCT and distinct <= CATEGORICAL_MAX_RATIO * max(
        non_null, 1
    ):
        return SemanticType.categorical
    return SemanticType.text


def _target_kind(target: str, semantic: dict[str, SemanticType], full: dict[str, Any]) -> str:
    """ "binary", "categorical" or "numeric": picks the association measure (see stats.py)."""
    distinct = int(full[target].get("distinct") or 0)
    kind = semantic[target]
    if distinct == 2 or kind is SemanticType.boolean:
        return "binary"
    if kind is SemanticType.numeric:
        integral = all(
            _as_float(full[target].get(k)) is not None
            and float(_as_float(full[target].get(k))).is_integer()  # type: ignore[arg-type]
            for k in ("min", "max")
        )
        return "categorical" if integral and distinct <= CLASS_TARGET_MAX_DISTINCT else "numeric"
    return "categorical"


def _profile_column(
    field: Any,
    full: dict[str, Any],
    sample: pd.DataFrame,
    semantic: SemanticType,
    rows: int,
    target: str | None,
    target_kind: str | None,
    id_column: str | None,
) -> ColumnProfile:
    kind = _kind(field)
    series = sample[field.name]
    non_null = int(full["non_null"])
    missing = rows - non_null
    distinct = min(int(full.get("distinct") or 0), non_null)
    notes: list[str] = []
    profile: dict[str, Any] = {
        "min": _json_scalar(full.get("min")),
        "max": _json_scalar(full.get("max")),
        "mean": stats.finite_or_none(full.get("mean")),
        "std": stats.finite_or_none(full.get("std")),
        "categories": full.get("categories"),
    }

    # Validity: NaN/inf and blanks are counted on the full table; unparseable text is
    # estimated from its share in the sample.
    invalid = float(full.get("invalid") or 0)
    if kind == "float" and invalid:
        notes.append(f"{int(invalid)} NaN/inf values")
    if kind == "string":
        if invalid:
            notes.append(f"{int(invalid)} blank strings")
        shape, unparseable = full.get("shape") or stats.string_shape(series)
        if shape != "text":
            notes.append(f"{shape}s stored as text")
            parsed_basis = max(1, int(series.dropna().astype(str).str.strip().ne("").sum()))
            invalid += unparseable / parsed_basis * max(0.0, non_null - invalid)
            if unparseable:
                notes.append(f"~{unparseable} values in the sample do not parse as {shape}s")

    outlier_share: float | None = None
    if semantic is SemanticType.numeric:
        values = stats.numeric_values(series)
        profile.update(stats.quantiles(values))
        if kind == "string":  # min/max of text are lexicographic: use the parsed sample
            profile.update(
                min=stats.finite_or_none(values.min()),
                max=stats.finite_or_none(values.max()),
                mean=stats.finite_or_none(values.mean()),
                std=stats.finite_or_none(values.std()),
            )
        # Full-table skewness when the engine gave it (DuckDB); Spark's skewness aggregate made
        # its pass ~10x slower, so there the sample's (bias-corrected) skewness stands in.
        skew = full.get("skew") if kind != "string" else None
        profile["skew"] = stats.finite_or_none(values.skew() if skew is None else skew)
        profile["histogram"] = stats.histogram(values)
        iqr, z = stats.iqr_outliers(values), stats.zscore_outliers(values)
        n = max(len(values), 1)
        outlier_share = iqr / n if len(values) else None
        profile.update(
            iqr_outliers=iqr,
            iqr_outlier_pct=round(100.0 * iqr / n, 4),
            zscore_outliers=z,
            zscore_outlier_pct=round(100.0 * z / n, 4),
        )
    if semantic in (SemanticType.categorical, SemanticType.boolean):
        profile["top_values"] = stats.top_values(series)

    inconsistent_share = 0.0
    if semantic is SemanticType.categorical and kind == "string":
        sample_non_null = int(series.notna().sum())
        collisions = stats.case_collisions(series)
        if collisions:
            notes.append(f"{collisions} sample values are case/whitespace variants of a category")
        inconsistent_share = collisions / sample_non_null if sample_non_null else 0.0

    is_constant = distinct <= 1
    if is_constant:
        notes.append("constant column" if non_null else "all values missing")

    distinct_exact = full.get("distinct_exact")
    if distinct_exact is not None and distinct_exact < non_null:
        notes.append(f"{non_null - distinct_exact} duplicate ids")

    association: tuple[float | None, str | None] = (None, None)
    if target and target_kind and field.name != target and field.name != id_column:
        feature_kind = {
            SemanticType.numeric: "numeric",
            SemanticType.categorical: "categorical",
            SemanticType.boolean: "categorical",
        }.get(semantic)
        if feature_kind:
            association = stats.target_association(
                series, feature_kind, sample[target], target_kind
            )

    components = quality.column_components(
        rows=rows,
        missing=missing,
        invalid=invalid,
        is_identifier=semantic is SemanticType.identifier,
        distinct_exact=distinct_exact,
        is_constant=is_constant,
        inconsistent_share=inconsistent_share,
        outlier_share=outlier_share,
    )
    return ColumnProfile(
        name=field.name,
        spark_type=field.dataType.simpleString(),
        semantic_type=semantic,
        count=rows,
        non_null=non_null,
        missing=missing,
        missing_pct=round(100.0 * missing / rows, 4),
        distinct=distinct,
        distinct_pct=round(100.0 * distinct / non_null, 4) if non_null else 0.0,
        is_constant=is_constant,
        invalid=round(invalid),
        invalid_pct=round(100.0 * invalid / non_null, 4) if non_null else 0.0,
        target_association=(round(association[0], 6) if association[0] is not None else None),
        association_method=association[1],
        quality_score=quality.weighted_score(components),
        quality_breakdown=quality.as_percent(components),
        notes=notes,
        **profile,
    )


def _column_warnings(columns: list[ColumnProfile], id_column: str | None) -> list[str]:
    warnings = []
    for c in columns:
        if c.name == id_column:
            continue
        if c.non_null == 0:
            warnings.append(f"column '{c.name}' is entirely null: drop it or fix the source")
        elif (
            c.spark_type == "string"
            and c.semantic_type in (SemanticType.identifier, SemanticType.text)
            and c.distinct > CATEGORICAL_MAX_DISTINCT
        ):
            warnings.append(
                f"column '{c.name}' has ~{c.distinct:,} distinct values: treated as "
                f"{c.semantic_type.value}, not as a category (no category set, no top values)"
            )
    return warnings


def _leakage_hints(
    sample: pd.DataFrame,
    columns: list[ColumnProfile],
    target: str | None,
    target_kind: str | None,
) -> list[dict[str, Any]]:
    """Features whose association with the target is near perfect: likely target leakage."""
    if not target or not target_kind:
        return []
    hints = []
    for c in columns:
        if c.name == target or c.target_association is None:
            value, measure = None, None
        else:
            value, measure = abs(c.target_association), c.association_method
        if target_kind == "binary" and c.semantic_type is SemanticType.numeric and c.name != target:
            auc = stats.single_feature_auc(sample[c.name], sample[target])
            if auc is not None and auc >= LEAKAGE_AUC_MIN and (value or 0) < LEAKAGE_MIN:
                value, measure = auc, "single_feature_auc"
        if value is not None and value >= LEAKAGE_MIN:
            hints.append(
                {
                    "column": c.name,
                    "measure": measure,
                    "value": round(value, 4),
                    "message": f"'{c.name}' predicts the target almost perfectly ({measure} "
                    f"{value:.3f}): check it is known before the outcome, or drop it",
                }
            )
    return hints


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    return stats.finite_or_none(value) if isinstance(value, int | float | decimal.Decimal) else None


def _json_scalar(value: Any) -> Scalar:
    """A Spark min/max as a JSON scalar: numbers stay numbers, dates become ISO strings."""
    if value is None or isinstance(value, bool | int | str):
        return value[:200] if isinstance(value, str) else value
    if isinstance(value, float | decimal.Decimal):
        return stats.finite_or_none(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)[:200]
