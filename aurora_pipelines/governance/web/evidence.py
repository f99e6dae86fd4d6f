"""What a checker reviews beside the request: the version's metrics and parameters from the
registry, the current champion, and the difference between the two.

The champion is what production serves according to the deployment records (the same
database as the approvals); without a production deployment the registry's `champion` alias
is asked. Registry look-ups go through `RegistryFacts`, one small interface with an MLflow
implementation, so the page works (with less to show) where no registry is reachable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol


@dataclass(frozen=True)
class VersionFacts:
    """A registered version's run metrics and parameters."""

    version: str
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


class RegistryFacts(Protocol):
    def version_facts(self, model_name: str, version: str) -> VersionFacts | None: ...

    def alias_version(self, model_name: str, alias: str) -> str | None: ...


class NoRegistry:
    """No registry configured: the page shows the request's own evidence only."""

    def version_facts(self, model_name: str, version: str) -> VersionFacts | None:
        return None

    def alias_version(self, model_name: str, alias: str) -> str | None:
        return None


class MlflowFacts:
    """Registry facts from an MLflow tracking server or store (MLflow imported on first use)."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        # A registered version's run never changes: found facts are kept for the server's life
        # (a failed look-up is not, so a version registered later is found on the next view).
        self._found: dict[tuple[str, str], VersionFacts] = {}

    @lru_cache(maxsize=1)  # noqa: B019 — one client per server process, which lives as long
    def _client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def version_facts(self, model_name: str, version: str) -> VersionFacts | None:
        from mlflow.exceptions import MlflowException

        key = (model_name, str(version))
        if key in self._found:
            return self._found[key]
        try:
            client = self._client()
            run_id = client.get_model_version(model_name, version).run_id
            data = client.get_run(run_id).data if run_id else None
        except MlflowException:
            return None
        facts = (
            VersionFacts(str(version))
            if data is None
            else VersionFacts(str(version), dict(data.metrics), dict(data.params))
        )
        self._found[key] = facts
        return facts

    def alias_version(self, model_name: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self._client().get_model_version_by_alias(model_name, alias).version)
        except MlflowException:
            return None


@dataclass(frozen=True)
class MetricRow:
    name: str
    candidate: float | None
    champion: float | None

    @property
    def delta(self) -> float | None:
        if self.candidate is None or self.champion is None:
            return None
        return self.candidate - self.champion


@dataclass(frozen=True)
class ChampionDiff:
    """The candidate version against the champion: metrics side by side, changed parameters."""

    champion_version: str | None
    champion_source: str  # "production deployment", "registry alias" or ""
    note: str
    metrics: list[MetricRow]
    changed_params: list[tuple[str, str | None, str | None]]


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def champion_diff(
    candidate: VersionFacts | None,
    champion_version: str | None,
    champion_source: str,
    champion: VersionFacts | None,
) -> ChampionDiff:
    """Side-by-side metrics and the parameters that differ (all the candidate's when there is
    no champion to compare with)."""
    cand_metrics = candidate.metrics if candidate else {}
    champ_metrics = champion.metrics if champion else {}
    if champion_version is None:
        note = "no champion yet: this would be the first production model"
    elif candidate is not None and champion_version == candidate.version:
        note = f"this version (v{champion_version}) is the champion"
    elif champion is None:
        note = f"champion v{champion_version}: its run is not in the registry"
    else:
        note = f"compared with champion v{champion_version} ({champion_source})"
    names = sorted(set(cand_metrics) | set(champ_metrics))
    metrics = [
        MetricRow(n, _finite(cand_metrics.get(n)), _finite(champ_metrics.get(n))) for n in names
    ]
    cand_params = candidate.params if candidate else {}
    champ_params = champion.params if champion else {}
    changed = [
        (p, cand_params.get(p), champ_params.get(p))
        for p in sorted(set(cand_params) | set(champ_params))
        if cand_params.get(p) != champ_params.get(p)
    ]
    return ChampionDiff(champion_version, champion_source, note, metrics, changed)
