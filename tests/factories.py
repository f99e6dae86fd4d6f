"""Factories shared by the tests: one spec builder, one resource set, one materialize helper."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import pytest

from aurora_pipelines.settings import Settings
from aurora_pipelines.specs import ExperimentSpec

BASE_SPEC: dict[str, Any] = {
    "team": "risk",
    "owner": "ds_alice",
    "source": {"kind": "csv", "path": "unused.csv"},
    "target": "default_flag",
    "id_column": "application_id",
}


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def make_spec(name: str = "experiment", **overrides: Any) -> ExperimentSpec:
    """A valid experiment spec; `overrides` replace fields, nested dicts merge (e.g.
    `training={"cv_folds": 3}` keeps the other training fields)."""
    base = {**BASE_SPEC, "name": name, "features": {"dbt_model": f"{name}_features"}}
    return ExperimentSpec.model_validate(_merge(base, overrides))


def resources_for(settings: Settings) -> dict[str, Any]:
    """The code location's resources (local profile) for a test's AURORA_HOME."""
    from aurora_pipelines.defs.resources import build_resources

    return build_resources(settings, "local")


def materialize(
    settings: Settings,
    assets: Sequence[dg.AssetsDefinition],
    *,
    partition: str | None = None,
    selection: Sequence[dg.AssetKey] | None = None,
    instance: dg.DagsterInstance | None = None,
    tags: Mapping[str, str] | None = None,
    raise_on_error: bool = False,
) -> dg.ExecuteInProcessResult:
    """Materialize `assets` in process with the real resources; failures are returned."""
    return dg.materialize(
        list(assets),
        selection=list(selection) if selection is not None else None,
        partition_key=partition,
        resources=resources_for(settings),
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags=dict(tags or {}),
        raise_on_error=raise_on_error,
    )


def cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run `aurora ARGV`, which must fail with exit 1 and one `error: ...` line; that line."""
    from aurora_pipelines.cli import main

    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err
