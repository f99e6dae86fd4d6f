"""What engine stage functions hand back to their callers: metadata values and check verdicts.

The engine imports nothing of Dagster, so a stage result describes itself in these plain
types; the Dagster package (`aurora_pipelines.defs.assets.metadata`) turns them into
`MetadataValue`s and `AssetCheckResult`s, and the CLI prints them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Markdown(str):
    """A metadata value shown as Markdown (a table, a list)."""


class JsonValue(dict):
    """A metadata value shown as JSON."""


class Severity(StrEnum):
    WARN = "WARN"
    ERROR = "ERROR"


@dataclass(frozen=True)
class CheckVerdict:
    """The outcome of one asset check, decided by the engine."""

    name: str
    passed: bool
    severity: Severity = Severity.ERROR
    description: str = ""  # why it failed, and what to do; empty when it passed
    metadata: dict[str, Any] = field(default_factory=dict)


# A stage result's `as_metadata()`: str/int/float/bool, Markdown, JsonValue or pathlib.Path
# values (shown as a path); None values are left out by the adapter.
MetadataDict = dict[str, Any]


class StageResult(Protocol):
    """What an engine stage function returns: its metadata and the verdicts of its checks."""

    def as_metadata(self) -> MetadataDict: ...

    def checks(self) -> list[CheckVerdict]: ...
