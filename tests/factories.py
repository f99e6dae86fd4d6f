"""Factories shared by the tests: one spec builder, one test home, one materialize helper, one
way to train and register a model version, and the model-version handles tests build.

Each builds real things (specs validated by the engine's models, MLflow versions registered by
the engine's registration path, Dagster runs on the code location's resources); what a test
sets up beyond that is specific to the behaviour it pins and stays in the test.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from aurora_pipelines.registry.model_version import (
    ModelVersion,
    metric_direction,
    model_classes,
)
from aurora_pipelines.settings import Settings
from aurora_pipelines.sources.sample_data import ID_COLUMN, TARGET, TIME_COLUMN
from aurora_pipelines.specs import ExperimentSpec

if TYPE_CHECKING:
    # Dagster is imported where it is used: unit tests that only build specs stay light.
    import dagster as dg
    import pandas as pd
    import pytest

    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.registry.mlflow_registry import RegisteredModel
    from aurora_pipelines.training.trainer import TrainingResult

# --- specs ------------------------------------------------------------------------------

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
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict) and _same_kind(current, value):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _same_kind(base: Mapping[str, Any], override: Mapping[str, Any]) -> bool:
    # A source of another kind (a table for a CSV) shares no fields with the base's: the
    # override replaces it instead of keeping the base's `path`.
    return "kind" not in override or override["kind"] == base.get("kind")


def make_spec(
    name: str = "experiment", *layers: Mapping[str, Any], **overrides: Any
) -> ExperimentSpec:
    """A valid experiment spec; `layers` (a test module's common fields) and then `overrides`
    replace fields, nested dicts merge (e.g. `training={"cv_folds": 3}` keeps the other
    training fields)."""
    spec = {**BASE_SPEC, "name": name, "features": {"dbt_model": f"{name}_features"}}
    for layer in (*layers, overrides):
        spec = _merge(spec, layer)
    return ExperimentSpec.model_validate(spec)


# --- a test's home ----------------------------------------------------------------------


def home_settings(root: Path, **overrides: Any) -> Settings:
    """Settings of an AURORA_HOME at `root`, with the experiment specs under it too."""
    return Settings(home=root, experiments_dir=root / "experiments", **overrides)


def export_home(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point AURORA_HOME / AURORA_EXPERIMENTS_DIR at `settings` (what the CLI and the lake
    resource read) until the test ends."""
    monkeypatch.setenv("AURORA_HOME", str(settings.root))
    monkeypatch.setenv("AURORA_EXPERIMENTS_DIR", str(settings.experiments_dir))


def cli_workspace(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An experiments folder and a private dbt project under `root`, exported for the CLI
    (acting as ds_alice), so scaffolding an experiment writes nothing into the repository."""
    from tests.dbt_support import copy_project

    experiments = root / "experiments"
    experiments.mkdir()
    dbt = copy_project(root / "dbt_project")
    monkeypatch.setenv("AURORA_EXPERIMENTS_DIR", str(experiments))
    monkeypatch.setenv("AURORA_DBT_PROJECT_DIR", str(dbt))
    monkeypatch.setenv("AURORA_USER", "ds_alice")
    return root


class DagsterHome(NamedTuple):
    """A test home with the Dagster instance and the resources sensors and runs are given."""

    settings: Settings
    instance: dg.DagsterInstance
    resources: dict[str, Any]


def dagster_home(settings: Settings) -> DagsterHome:
    """An ephemeral Dagster instance and the code location's resources for `settings`."""
    import dagster as dg

    return DagsterHome(settings, dg.DagsterInstance.ephemeral(), resources_for(settings))


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
    import dagster as dg

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
    import pytest

    from aurora_pipelines.cli import main

    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def asset_metadata(result: dg.ExecuteInProcessResult, key: Sequence[str]) -> dict[str, Any]:
    """The metadata values of the one materialization of asset `key` in `result`."""
    import dagster as dg

    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(key)
    ]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


# --- model versions ---------------------------------------------------------------------


# What `train_model` trains unless a test says otherwise: the credit sample's columns and a
# small, seeded search.
TRAINING_DEFAULTS: dict[str, Any] = {
    "target": TARGET,
    "problem_type": "classification",
    "algorithms": ["logistic_regression"],
    "cv_folds": 3,
    "seed": 1,
    "primary_metric": "roc_auc",
    "id_column": ID_COLUMN,
    "time_column": TIME_COLUMN,
    # Plain baselines and the top-k ensemble are on in the product; off here so a test
    # trains only what it names (tests/unit/test_leaderboard.py covers them).
    "baselines": False,
    "ensemble_top_k": 0,
}


def train_model(frame: pd.DataFrame, **options: Any) -> TrainingResult:
    """`train_experiment` on `frame` with `TRAINING_DEFAULTS`; `options` replace them or add
    its other keywords (validation, holdout_fraction, calibration, ...)."""
    from aurora_pipelines.training import train_experiment

    return train_experiment(frame, **{**TRAINING_DEFAULTS, **options})


def _artifact_root(tracking_uri: str) -> Path:
    # Artifacts beside the SQLite store, never under the working directory's ./mlruns.
    if not tracking_uri.startswith("sqlite:///"):
        raise ValueError(f"tests register into a SQLite store, not {tracking_uri}")
    return Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts"


def register_model(
    registry: Settings | str,
    name: str,
    result: TrainingResult,
    frame: pd.DataFrame,
    features: str | Path,
    *,
    features_version: int = 0,
    experiment: str | None = None,
    tags: Mapping[str, str] | None = None,
    alias: str | None = None,
) -> RegisteredModel:
    """Register `result` as version of model `name` the way train/model does (skops model,
    signature and dataset input from `frame`, lineage of feature table `features` at
    `features_version`, problem-type / metric / digest tags) and point `alias` at it.

    `registry` is a test home's Settings (its tracking URI and artifact folder) or a SQLite
    tracking URI (artifacts beside the database). Tags default to `{"experiment": ...}`.
    """
    from aurora_pipelines.registry import mlflow_registry

    if isinstance(registry, Settings):
        tracking_uri, artifact_root = registry.tracking_uri, registry.mlflow_artifacts_dir
    else:
        tracking_uri, artifact_root = registry, _artifact_root(registry)
    experiment = experiment or name
    registered = mlflow_registry.log_and_register(
        result,
        tracking_uri=tracking_uri,
        artifact_root=artifact_root,
        experiment_name=experiment,
        registered_model_name=name,
        sample_input=frame[result.feature_columns].head(5),
        training_data=frame,
        feature_table=str(features),
        feature_table_version=features_version,
        tags=dict(tags) if tags is not None else {"experiment": experiment},
    )
    if alias:
        mlflow_registry.set_alias(tracking_uri, name, alias, registered.version)
    return registered


def register_stub_versions(tracking_uri: str, root: Path, name: str, count: int) -> list[str]:
    """`count` registered versions of `name`, each a tiny artifact directory with distinct
    bytes: for tests of what moves between versions (aliases, digests, bundles), not of
    what a model predicts."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.create_registered_model(name)
    mlflow.set_tracking_uri(tracking_uri)
    experiment = client.create_experiment(name, artifact_location=(root / "art").as_uri())
    versions = []
    for i in range(count):
        src = root / f"model{i}"
        src.mkdir(parents=True)
        (src / "MLmodel").write_text(f"flavors: {{}}\nversion_marker: {i}\n")
        run = client.create_run(experiment)
        client.log_artifacts(run.info.run_id, str(src), "model")
        client.set_terminated(run.info.run_id)
        mv = client.create_model_version(
            name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id
        )
        versions.append(str(mv.version))
    mlflow.set_tracking_uri(None)
    return versions


def in_memory_version(
    model: Any,
    input_columns: Sequence[str],
    *,
    version: str = "1",
    name: str = "toy",
    problem_type: str = "classification",
    primary_metric: str | None = None,
    threshold: float | None = None,
    metrics: Mapping[str, float] | None = None,
) -> ModelVersion:
    """A model-version handle around a model fitted in the test, for engine tests that score
    without registering (registered versions are loaded with `load_model_version`)."""
    metric = primary_metric or ("roc_auc" if problem_type == "classification" else "rmse")
    return ModelVersion(
        name=name,
        version=version,
        model=model,
        input_columns=tuple(input_columns),
        problem_type=problem_type,
        primary_metric=metric,
        greater_is_better=metric_direction(metric, problem_type),
        threshold=threshold,
        classes=model_classes(model) if problem_type == "classification" else (),
        metrics=dict(metrics or {}),
    )


# --- governance -------------------------------------------------------------------------


def governance_store(url: str) -> GovernanceStore:
    """A governance store on `url` with the default policy (callers dispose of it)."""
    from aurora_pipelines.governance.policy import load_policy
    from aurora_pipelines.governance.store import GovernanceStore
    from aurora_pipelines.settings import DEFAULT_POLICY

    return GovernanceStore(url, load_policy(DEFAULT_POLICY))


def approve(
    store: GovernanceStore,
    tracking_uri: str,
    name: str,
    version: str,
    gates: Sequence[str] = ("staging", "production"),
) -> None:
    """Request and grant `gates` for `version` of `name`, by the policy's approvers."""
    from aurora_pipelines.registry.digest import model_version_digest

    digest = model_version_digest(tracking_uri, name, version)
    approvers = {"staging": "validator_bob", "production": "mrm_carol"}
    for gate in gates:
        request = store.request_approval(name, gate, name, version, digest, "ds_alice")
        store.decide(request.id, "approve", approvers[gate], comment="ok")


class ReleaseWorld(NamedTuple):
    """A SQLite registry with stub versions of one model and a governance store."""

    tracking_uri: str
    store: GovernanceStore
    versions: list[str]


@contextmanager
def release_world(root: Path, governance_url: str, name: str, count: int) -> Iterator[ReleaseWorld]:
    """`count` stub versions of `name` in a registry under `root`, and a governance store on
    `governance_url`, disposed of at the end."""
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    versions = register_stub_versions(tracking_uri, root, name, count)
    store = governance_store(governance_url)
    try:
        yield ReleaseWorld(tracking_uri, store, versions)
    finally:
        store.dispose()


# --- catalog tables as files (data access) ------------------------------------------------


def write_catalog_table(
    settings: Settings, name: str, frame: pd.DataFrame, partition_by: str | None = None
) -> Path:
    """`database.table` as Spark's warehouse lays it out (`<db>.db/<table>/*.parquet`, Hive
    partition directories with `partition_by`), written without a JVM."""
    database, table = name.split(".", 1)
    location = settings.warehouse_dir / f"{database}.db" / table
    groups = frame.groupby(partition_by) if partition_by else [(None, frame)]
    for value, part in groups:
        target = location / f"{partition_by}={value}" if partition_by else location
        target.mkdir(parents=True, exist_ok=True)
        rows = part.drop(columns=[partition_by]) if partition_by else part
        rows.to_parquet(target / "part-00000.parquet", index=False)
    return location


def customers_frame(rows: int = 250) -> pd.DataFrame:
    """A small table with an id, a score and the policy's PII columns (email, national_id)."""
    import pandas as pd

    return pd.DataFrame(
        {
            "id": range(rows),
            "email": [f"c{i}@example.com" for i in range(rows)],
            "national_id": [f"NID-{i:05d}" for i in range(rows)],
            "income": [1000.0 + 10 * i for i in range(rows)],
        }
    )
