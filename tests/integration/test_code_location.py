"""The code location loads cheaply and validates with Dagster's own tooling."""

from __future__ import annotations

import os
import subprocess
import sys

from aurora_pipelines.settings import REPO_DIR

DAGSTER = str(REPO_DIR / ".venv" / "bin" / "dagster")


def _env(tmp_path) -> dict[str, str]:
    home = tmp_path / "home"
    return {**os.environ, "AURORA_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}


def test_loading_the_code_location_starts_no_spark_mlflow_or_database(tmp_path):
    probe = (
        "import sys, pathlib, os\n"
        "import aurora_pipelines.defs.definitions as d\n"
        "assert d.defs.assets, 'no assets'\n"
        "heavy = [m for m in ('mlflow', 'sqlalchemy.dialects.sqlite.pysqlite')"
        " if m in sys.modules]\n"
        # dagster-pyspark imports pyspark (a Python package); no JVM may start.
        "spark = sys.modules.get('pyspark')\n"
        "if spark is not None and spark.SparkContext._active_spark_context is not None:\n"
        "    heavy.append('a Spark session')\n"
        "print('HEAVY', heavy)\n"
        "home = pathlib.Path(os.environ['AURORA_HOME'])\n"
        "print('WROTE', sorted(p.name for p in home.glob('*')) if home.exists() else [])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=_env(tmp_path),
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "HEAVY []" in done.stdout
    # No governance DB, MLflow store or metastore was created by loading.
    assert "governance.db" not in done.stdout and "mlflow" not in done.stdout.split("WROTE")[1]


def test_dagster_definitions_validate_passes(tmp_path):
    (tmp_path / "home" / "dagster").mkdir(parents=True)
    done = subprocess.run(
        [DAGSTER, "definitions", "validate", "-m", "aurora_pipelines.defs.definitions"],
        env=_env(tmp_path),
        cwd=REPO_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def test_every_stage_is_an_asset_in_the_experiment_group():
    import dagster as dg

    from aurora_pipelines.defs.definitions import build_definitions
    from aurora_pipelines.settings import Settings

    defs = build_definitions(Settings(experiments_dir=REPO_DIR / "experiments"))
    graph = defs.resolve_asset_graph()
    keys = {
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if graph.get(k).group_name == "credit_default"
    }
    assert {
        "credit_default/raw",
        "credit_default/eda/profile",
        "credit_default/features",
        "credit_default/train/model",
        "credit_default/governance/staging_approval",
        "credit_default/deploy/staging",
        "credit_default/serve/uat_scores",
        "credit_default/governance/production_approval",
        "credit_default/deploy/production",
        "credit_default/raw_batch",
        "credit_default/serve/scoring_features",
        "credit_default/serve/batch_scores",
        "credit_default/serve/ab_comparison",
        "credit_default/monitor/drift",
    } <= keys
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("credit_default/eda/profile", "quality_score_min") in checks
    assert ("credit_default/train/model", "metric_min") in checks
    # dbt tests became asset checks on the feature table.
    assert any(a == "credit_default/features" and "unique" in n for a, n in checks)
    spec = graph.get(dg.AssetKey(["credit_default", "features"]))
    assert dg.AssetKey(["credit_default", "eda", "profile"]) in spec.parent_keys


def _definitions_with(tmp_path, **features):
    from aurora_pipelines.defs.definitions import build_definitions
    from aurora_pipelines.settings import Settings
    from aurora_pipelines.specs import load_spec, write_spec

    spec = load_spec(REPO_DIR / "experiments" / "credit_default.yaml")
    spec = spec.model_copy(update={"features": spec.features.model_copy(update=features)})
    write_spec(tmp_path / "experiments", spec)
    return build_definitions(Settings(home=tmp_path, experiments_dir=tmp_path / "experiments"))


def test_a_spec_naming_a_missing_dbt_model_is_refused_at_load(tmp_path):
    import pytest

    from aurora_pipelines.errors import SpecError

    with pytest.raises(SpecError, match="'credit_default_featurez' is not a model of the dbt"):
        _definitions_with(tmp_path, dbt_model="credit_default_featurez")


def test_a_dbt_model_filed_under_another_stage_is_refused_at_load(tmp_path):
    import pytest

    from aurora_pipelines.errors import SpecError

    # The scoring model builds serve/scoring_features, not the training feature set.
    with pytest.raises(SpecError, match="builds credit_default/serve/scoring_features"):
        _definitions_with(tmp_path, dbt_model="credit_default_scoring_features")


def test_the_ungated_chain_is_automated_and_versioned_and_gates_are_not():
    import dagster as dg

    from aurora_pipelines.defs.definitions import build_definitions
    from aurora_pipelines.settings import Settings

    graph = build_definitions(
        Settings(experiments_dir=REPO_DIR / "experiments")
    ).resolve_asset_graph()

    def node(*path: str):
        return graph.get(dg.AssetKey(["credit_default", *path]))

    for automated in [
        ("serve", "scoring_features"),
        ("serve", "batch_scores"),
        ("monitor", "drift"),
    ]:
        assert node(*automated).automation_condition is not None, automated
    for gated in [("train", "model"), ("governance", "staging_approval"), ("deploy", "production")]:
        assert node(*gated).automation_condition is None, gated
    assert node("serve", "batch_scores").freshness_policy is not None
    assert node("monitor", "drift").freshness_policy is not None
    assert node("train", "model").code_version
    assert node("train", "model").code_version != node("deploy", "production").code_version
