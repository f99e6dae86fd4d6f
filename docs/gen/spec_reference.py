"""Generate reference/spec.md from the pydantic models of aurora_pipelines/specs.py.

One section per model (its docstring, then a table of fields: type, default, constraints and
description), reached from the top-level ExperimentSpec; a field added to a model appears here
at the next build.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any

import mkdocs_gen_files
from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from aurora_pipelines.specs import ExperimentSpec


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " or ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " or ".join(f"`{m.value}`" for m in annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: Any) -> str:
    if field.is_required():
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is PydanticUndefined:
        return ""
    if isinstance(value, BaseModel):
        return "(section defaults)"
    if isinstance(value, enum.Enum):
        value = value.value
    return f"`{value!r}`" if value not in (None, [], {}) else f"`{value}`"


def _constraints(field: Any) -> str:
    names = {
        Ge: ("≥", "ge"),
        Gt: (">", "gt"),
        Le: ("≤", "le"),
        Lt: ("<", "lt"),
        MinLen: ("min length", "min_length"),
        MaxLen: ("max length", "max_length"),
    }
    parts = []
    for item in field.metadata:
        for kind, (label, attribute) in names.items():
            if isinstance(item, kind):
                parts.append(f"{label} {getattr(item, attribute)}")
    return ", ".join(parts)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render(root: type[BaseModel]) -> str:
    lines = [
        "# Experiment spec reference",
        "",
        "An experiment is one YAML file under `experiments/` (or `AURORA_EXPERIMENTS_DIR`),",
        "validated by `aurora_pipelines/specs.py`. Unknown fields are errors: a misspelt key is",
        "refused, naming it, rather than ignored. This page is generated from those models.",
        "",
    ]
    queue, seen = [root], set()
    while queue:
        model = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        lines += [f"## {model.__name__}", ""]
        if model.__doc__ and not model.__doc__.startswith(model.__name__ + "("):
            lines += [" ".join(model.__doc__.split()), ""]
        lines += ["| field | type | default | constraints | description |", "|---|---|---|---|---|"]
        for name, field in model.model_fields.items():
            key = field.alias or name
            lines.append(
                f"| `{key}` | {_cell(_type_name(field.annotation))} | {_cell(_default(field))} "
                f"| {_cell(_constraints(field))} | {_cell(field.description or '')} |"
            )
            queue.extend(m for m in _models_in(field.annotation) if m not in seen)
        lines.append("")
    return "\n".join(lines)


with mkdocs_gen_files.open("reference/spec.md", "w") as page:
    page.write(render(ExperimentSpec))
