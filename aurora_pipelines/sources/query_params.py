"""Typed `{{ name }}` parameters of a saved query: declared, validated, then bound.

A template's `{{ name }}` becomes the bind marker `:name` before the SQL is parsed, so the
guard sees a placeholder where the value goes, and the engine binds the value (DuckDB
`$name`, Spark `args=`). A value is never written into the SQL text: a string parameter
holding `' OR 1=1 --` is compared as that string, and an `int` parameter holding `1 OR 1=1`
is refused before anything runs.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError
from sqlglot import exp

from aurora_pipelines.errors import SourceError
from aurora_pipelines.sources.sql_guard import GuardedQuery, guard_query

ParamType = Literal["int", "float", "str", "date", "bool"]
PARAM_TYPES: dict[str, type] = {"int": int, "float": float, "str": str, "date": date, "bool": bool}
TEMPLATE_MARKER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ParameterError(SourceError):
    """A saved query's parameters are declared or given wrongly; the message says which."""


def template_names(sql: str) -> list[str]:
    """The `{{ name }}` markers of a template, in order of first use."""
    return list(dict.fromkeys(TEMPLATE_MARKER.findall(sql)))


def to_bind_markers(sql: str) -> str:
    """`{{ name }}` -> `:name` (Spark's named parameter marker)."""
    return TEMPLATE_MARKER.sub(lambda m: f":{m.group(1)}", sql)


def guard_template(sql: str, declared: dict[str, str]) -> GuardedQuery:
    """Guard a template and check its markers against the declared parameter types."""
    for name, kind in declared.items():
        if not NAME.match(name):
            raise ParameterError(f"parameter name '{name}' must be a SQL identifier")
        if kind not in PARAM_TYPES:
            raise ParameterError(
                f"parameter '{name}' has type '{kind}'; use one of {', '.join(PARAM_TYPES)}"
            )
    used = template_names(sql)
    undeclared = [n for n in used if n not in declared]
    if undeclared:
        raise ParameterError(
            f"the query uses {{{{ {undeclared[0]} }}}} but declares no type for it; add "
            f"`--param {undeclared[0]}:int` (types: {', '.join(PARAM_TYPES)})"
        )
    unused = [n for n in declared if n not in used]
    if unused:
        raise ParameterError(f"parameter '{unused[0]}' is declared but the query never uses it")
    guarded = guard_query(to_bind_markers(sql))
    bound = {p.name for p in guarded.expression.find_all(exp.Placeholder)}
    quoted = [n for n in used if n not in bound]
    if quoted:
        raise ParameterError(
            f"{{{{ {quoted[0]} }}}} sits inside a quoted string, where it cannot be bound; "
            f"write it without quotes (`= {{{{ {quoted[0]} }}}}`), the type makes it a value"
        )
    return guarded


def bind_values(declared: dict[str, str], given: dict[str, Any]) -> dict[str, Any]:
    """The given values converted to their declared types; ParameterError names each misfit."""
    missing = [n for n in declared if n not in given]
    if missing:
        raise ParameterError(
            f"parameter '{missing[0]}' ({declared[missing[0]]}) has no value; pass "
            f"`--param {missing[0]}=...`"
        )
    unknown = [n for n in given if n not in declared]
    if unknown:
        raise ParameterError(
            f"the query has no parameter '{unknown[0]}' (parameters: "
            f"{', '.join(declared) or 'none'})"
        )
    values: dict[str, Any] = {}
    for name, kind in declared.items():
        try:
            values[name] = TypeAdapter(PARAM_TYPES[kind]).validate_python(given[name])
        except ValidationError:
            raise ParameterError(
                f"parameter '{name}' must be {kind}, got {given[name]!r}; nothing was run"
            ) from None
    return values


def parse_assignments(items: list[str]) -> dict[str, str]:
    """`name=value` pairs from the command line."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not NAME.match(name.strip()):
            raise ParameterError(f"`--param {item}` must be NAME=VALUE")
        out[name.strip()] = value
    return out


def parse_declarations(items: list[str]) -> dict[str, str]:
    """`name:type` declarations from the command line."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, kind = item.partition(":")
        if not sep:
            raise ParameterError(f"`--param {item}` must be NAME:TYPE ({', '.join(PARAM_TYPES)})")
        out[name.strip()] = kind.strip()
    return out
