"""Request validation for the scoring service: JSON body -> typed records, against the signature.

The model's MLflow signature (inferred from training rows) names every input field and its
type. Every field must be present in every record (null is allowed: the pipeline imputes);
a value of the wrong type is refused with the field's name, so a client learns what to fix
from one 422 instead of from a model stack trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

# MLflow signature types -> the numpy dtype the pipeline was trained on.
_NUMERIC = {"long": "int64", "integer": "int32", "double": "float64", "float": "float32"}
_SUPPORTED = set(_NUMERIC) | {"string", "boolean", "datetime"}


class RequestInvalid(Exception):
    """A client error: `status` (4xx) and a reason that names what to fix."""

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class InputField:
    name: str
    type: str  # MLflow ColSpec type name


@dataclass(frozen=True)
class InputSchema:
    """The model's input fields in signature order."""

    fields: tuple[InputField, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @classmethod
    def from_signature(cls, signature: Any) -> InputSchema:
        fields = []
        for col in signature.inputs.inputs:
            kind = getattr(col.type, "name", str(col.type))
            fields.append(InputField(str(col.name), kind if kind in _SUPPORTED else "string"))
        return cls(tuple(fields))

    def as_json_schema(self) -> dict[str, Any]:
        """A JSON schema of one record (for the OpenAPI document)."""
        types = {
            "long": "integer",
            "integer": "integer",
            "double": "number",
            "float": "number",
            "string": "string",
            "boolean": "boolean",
            "datetime": "string",
        }
        return {
            "type": "object",
            "properties": {f.name: {"type": [types[f.type], "null"]} for f in self.fields},
            "required": self.names,
        }


def parse_body(body: bytes, *, max_records: int, max_bytes: int) -> list[dict[str, Any]]:
    """`{"records": [{...}, ...]}` -> the list of records; 4xx reasons for anything else."""
    if len(body) > max_bytes:
        raise RequestInvalid(
            413, f"request body is {len(body)} bytes; the limit is {max_bytes} (send fewer records)"
        )
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RequestInvalid(400, f"malformed JSON: {exc}") from None
    if not isinstance(payload, dict) or "records" not in payload:
        raise RequestInvalid(422, 'body must be an object {"records": [{field: value, ...}]}')
    records = payload["records"]
    if not isinstance(records, list) or not records:
        raise RequestInvalid(422, "`records` must be a non-empty list of objects", "records")
    if len(records) > max_records:
        raise RequestInvalid(
            413, f"{len(records)} records in one request; the limit is {max_records}", "records"
        )
    return records


def _check_value(value: Any, kind: str) -> bool:
    if value is None:
        return True
    if kind in ("long", "integer"):
        # JSON true/false are bools, which Python also counts as ints: refuse them here.
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if kind in ("double", "float"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "datetime":
        return isinstance(value, str)
    return isinstance(value, str)


def _is_int(value: Any) -> bool:
    # JSON true/false are bools, which Python also counts as ints: refuse them here.
    t = type(value)
    return t is int or (t is float and value.is_integer())


def _is_number(value: Any) -> bool:
    t = type(value)
    return t is float or t is int


def _is_str(value: Any) -> bool:
    return type(value) is str


# orjson gives exactly these types, so an exact type test is enough on the request path.
_FAST_CHECKS = {
    "long": _is_int,
    "integer": _is_int,
    "double": _is_number,
    "float": _is_number,
    "boolean": lambda v: type(v) is bool,
    "datetime": _is_str,
    "string": _is_str,
}
_COMPILED: dict[InputSchema, tuple[tuple[str, Any], ...]] = {}


def _compiled(schema: InputSchema) -> tuple[tuple[str, Any], ...]:
    checks = _COMPILED.get(schema)
    if checks is None:
        checks = tuple((f.name, _FAST_CHECKS[f.type]) for f in schema.fields)
        _COMPILED[schema] = checks
    return checks


def validate_records(records: list[Any], schema: InputSchema) -> None:
    """Every record is an object holding every signature field with a value of its type."""
    checks = _compiled(schema)
    missing = object()
    for record in records:
        # Precompiled per schema: one pass of exact type tests; the slow walk below only
        # runs to word the refusal (or for values orjson would not produce, e.g. subclasses).
        if type(record) is not dict:
            break
        for name, check in checks:
            value = record.get(name, missing)
            if value is not None and (value is missing or not check(value)):
                break
        else:
            continue
        break
    else:
        return
    _validate_slowly(records, schema)


def _validate_slowly(records: list[Any], schema: InputSchema) -> None:
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise RequestInvalid(422, f"records[{index}] is not an object", f"records[{index}]")
        for field in schema.fields:
            if field.name not in record:
                raise RequestInvalid(
                    422,
                    f"records[{index}] lacks field '{field.name}' ({field.type}); send every "
                    "model input field (null for unknown)",
                    field.name,
                )
            if not _check_value(record[field.name], field.type):
                raise RequestInvalid(
                    422,
                    f"records[{index}].{field.name} must be {field.type} (or null), got "
                    f"{type(record[field.name]).__name__} {record[field.name]!r:.40}",
                    field.name,
                )


def to_frame(records: list[dict[str, Any]], schema: InputSchema) -> pd.DataFrame:
    """One DataFrame in signature order with the training dtypes (nulls -> NaN/None)."""
    columns: dict[str, Any] = {}
    for field in schema.fields:
        values = [r[field.name] for r in records]
        kind = field.type
        if kind in _NUMERIC:
            if kind in ("long", "integer") and None not in values:
                columns[field.name] = np.array(values, dtype=_NUMERIC[kind])
            else:
                columns[field.name] = np.array(
                    [math.nan if v is None else v for v in values], dtype="float64"
                )
        elif kind == "boolean":
            columns[field.name] = (
                np.array(values, dtype=bool) if None not in values else np.array(values, object)
            )
        elif kind == "datetime":
            columns[field.name] = pd.to_datetime(values, errors="coerce")
        else:
            columns[field.name] = np.array(values, dtype=object)
    return pd.DataFrame(columns)
