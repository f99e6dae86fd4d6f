"""Great Expectations suites generated from a profile, and validation of new raw batches.

The suite is what the profiled training data promises about every later batch:
- every column exists (one table-level expectation: GX keeps a single `expect_column_to_exist`
  per suite, as its domain is the table), with a compatible type (from the Spark type);
- not null where the full table had no nulls; where it had some, at least
  `1 - (2 x missing share + 1%)` of the values are present (missingness may not explode);
- numeric values inside the full table's [min, max], widened by 10% of the range on each side
  (a new batch of the same population lands a little outside the old extremes), for at least
  99% of the rows: a broken unit or sign fails, a shifted distribution is the drift monitor's;
- small categoricals (exact set of <= 50 values from the full table) stay in that set;
- the id column stays unique when it was.
Expectations on the target carry `meta.role = "target"`, so a scoring batch (which has no
target) is validated without them. The suite is stored as GX suite JSON beside the experiment
(`<AURORA_HOME>/expectations/<experiment>/raw.json`) and validated with GX 1.x (ephemeral
context, pandas datasource) on a seeded sample of the batch.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from aurora_pipelines.profiling.profile import Profile, SemanticType

RANGE_MOSTLY = 0.99
RANGE_SLACK = 0.10
EXAMPLES = 5

_INT = ["int8", "int16", "int32", "int64", "Int8", "Int16", "Int32", "Int64", "float64"]
_FLOAT = ["float32", "float64", "Float32", "Float64", "Decimal", "int64"]
_DATE = ["date", "datetime", "Timestamp"] + [
    f"datetime64[{unit}{tz}]" for unit in ("ns", "us", "ms", "s") for tz in ("", ", UTC")
]
TYPE_LISTS: dict[str, list[str]] = {
    "tinyint": _INT,
    "smallint": _INT,
    "int": _INT,
    "bigint": _INT,
    "float": _FLOAT,
    "double": _FLOAT,
    "boolean": ["bool", "boolean"],
    "string": ["str", "string"],
    "date": _DATE,
    "timestamp": _DATE,
    "timestamp_ntz": _DATE,
}


def _typed(values: list[str], spark_type: str) -> list[Any]:
    """Category values (collected as strings) back in the column's own type."""
    if spark_type == "boolean":
        return [v == "true" for v in values]
    if spark_type in ("tinyint", "smallint", "int", "bigint"):
        return [int(v) for v in values]
    if spark_type in ("float", "double"):
        return [float(v) for v in values]
    return values


def build_suite(profile: Profile, name: str) -> dict[str, Any]:
    """A GX expectation suite (as its JSON dict) from what the profile saw."""
    expectations: list[dict[str, Any]] = []

    def add(kind: str, column: str, **kwargs: Any) -> None:
        meta = {"role": "target"} if column == profile.target else {}
        expectations.append(
            {"type": f"expect_{kind}", "kwargs": {"column": column, **kwargs}, "meta": meta}
        )

    expectations.append(
        {
            "type": "expect_table_columns_to_match_set",
            "kwargs": {
                "column_set": [c.name for c in profile.columns if c.name != profile.target],
                "exact_match": False,
            },
            "meta": {},
        }
    )
    for c in profile.columns:
        if c.semantic_type is SemanticType.other:
            continue
        base_type = c.spark_type.split("(")[0]
        if base_type in TYPE_LISTS:
            add("column_values_to_be_in_type_list", c.name, type_list=TYPE_LISTS[base_type])
        elif base_type == "decimal":
            add("column_values_to_be_in_type_list", c.name, type_list=["Decimal", *_FLOAT])
        if c.non_null == 0:
            continue
        share = c.missing / c.count if c.count else 0.0
        if share == 0:
            add("column_values_to_not_be_null", c.name)
        else:
            add(
                "column_values_to_not_be_null",
                c.name,
                mostly=round(max(0.0, 1 - (2 * share + 0.01)), 4),
            )
        numeric_type = base_type in ("tinyint", "smallint", "int", "bigint", "float", "double")
        if (
            c.semantic_type is SemanticType.numeric
            and numeric_type
            and isinstance(c.min, int | float)
            and isinstance(c.max, int | float)
        ):
            slack = RANGE_SLACK * (c.max - c.min)
            integral = base_type in ("tinyint", "smallint", "int", "bigint")
            low, high = c.min - slack, c.max + slack
            add(
                "column_values_to_be_between",
                c.name,
                min_value=math.floor(low) if integral else round(low, 6),
                max_value=math.ceil(high) if integral else round(high, 6),
                mostly=RANGE_MOSTLY,
            )
        if c.categories is not None and c.semantic_type in (
            SemanticType.categorical,
            SemanticType.boolean,
        ):
            add(
                "column_values_to_be_in_set",
                c.name,
                value_set=_typed(c.categories, base_type),
            )
        if c.name == profile.id_column and not profile.id_duplicates:
            add("column_values_to_be_unique", c.name)
    return {"name": name, "expectations": expectations, "meta": {"generated_by": "aurora"}}


def write_suite(profile: Profile, path: Path, name: str) -> Path:
    """Write the suite JSON atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(build_suite(profile, name), indent=2, default=str))
    tmp.replace(path)
    return path


def load_suite(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


@dataclass(frozen=True)
class FailedExpectation:
    expectation: str
    column: str | None
    kwargs: dict[str, Any]
    unexpected_count: int | None
    unexpected_percent: float | None
    examples: list[Any]
    observed: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "column": self.column,
            "unexpected_count": self.unexpected_count,
            "unexpected_percent": self.unexpected_percent,
            "examples": [str(e) for e in self.examples],
            "observed": None if self.observed is None else str(self.observed),
            "kwargs": {k: v for k, v in self.kwargs.items() if k not in ("column", "value_set")},
        }


@dataclass(frozen=True)
class SuiteValidation:
    success: bool
    evaluated: int
    failed: list[FailedExpectation] = field(default_factory=list)
    skipped_roles: list[str] = field(default_factory=list)

    def failed_dicts(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.failed]


def validate_frame(
    frame: pd.DataFrame, suite: dict[str, Any], skip_roles: tuple[str, ...] = ()
) -> SuiteValidation:
    """Validate a pandas batch against `suite` with GX; failures carry example values."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    gx_suite = context.suites.add(gx.ExpectationSuite(name=suite["name"]))
    evaluated = 0
    for item in suite["expectations"]:
        if item.get("meta", {}).get("role") in skip_roles:
            continue
        gx_suite.add_expectation_configuration(
            ExpectationConfiguration(
                type=item["type"], kwargs=item["kwargs"], meta=item.get("meta", {})
            )
        )
        evaluated += 1
    batch = (
        context.data_sources.add_pandas("aurora")
        .add_dataframe_asset("batch")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    result = batch.validate(gx_suite, result_format="SUMMARY")
    failed = []
    for r in result.results:
        if r.success:
            continue
        config = r.expectation_config
        details = r.result or {}
        examples = details.get("partial_unexpected_list") or (
            (details.get("details") or {}).get("mismatched", {}).get("missing") or []
        )
        failed.append(
            FailedExpectation(
                expectation=config.type,
                column=config.kwargs.get("column"),
                kwargs=dict(config.kwargs),
                unexpected_count=details.get("unexpected_count"),
                unexpected_percent=details.get("unexpected_percent"),
                examples=list(dict.fromkeys(str(e) for e in examples))[:EXAMPLES],
                observed=details.get("observed_value"),
            )
        )
    return SuiteValidation(
        success=not failed, evaluated=evaluated, failed=failed, skipped_roles=list(skip_roles)
    )
