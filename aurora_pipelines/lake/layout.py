"""Where things live under AURORA_HOME: the one owner of Aurora's path rules.

Every stage's Delta table is `<home>/lake/<experiment>/<stage...>`, every report
`<home>/reports/<experiment>/...`. Code that needs a location asks a `LakeLayout` rather than
joining path literals, so a change of layout is one change here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class _Keyed(Protocol):
    """What a stage table needs of a spec: its asset key path per stage (`ExperimentSpec`)."""

    def key(self, *parts: str) -> list[str]: ...


@dataclass(frozen=True)
class LakeLayout:
    home: Path

    @property
    def root(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def lake_dir(self) -> Path:
        return self.root / "lake"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def table(self, experiment: str, *stage: str) -> Path:
        """A stage's Delta table, e.g. `table("churn", "serve", "batch_scores")`."""
        return self.lake_dir.joinpath(experiment, *stage)

    def stage_table(self, spec: _Keyed, stage: Sequence[str]) -> Path:
        """A stage's Delta table of a spec, at its asset key: a further task of a multi-task
        experiment reads its parent's raw / features / scoring-features tables here."""
        return self.lake_dir.joinpath(*spec.key(*stage))

    def report(self, experiment: str, *parts: str) -> Path:
        """A report file of the experiment; its directory is created."""
        path = self.reports_dir.joinpath(experiment, *parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def report_dir(self, experiment: str, *parts: str) -> Path:
        """A directory of reports (not created)."""
        return self.reports_dir.joinpath(experiment, *parts)

    def prediction_log(self, experiment: str) -> Path:
        """The scoring service's Delta prediction log."""
        return self.table(experiment, "serve", "prediction_log")
