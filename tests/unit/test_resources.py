"""Typed resources per deployment profile: secrets stay out of config, the actor is the run's."""

import json

import dagster as dg
import pytest

from aurora_pipelines.defs.resources import GovernanceResource, build_resources
from aurora_pipelines.errors import SpecError
from aurora_pipelines.settings import Settings

SECRET_URL = "postgresql+psycopg://aurora:s3cret-pw@127.0.0.1:5432/aurora"


def _config(resource: dg.ConfigurableResource) -> str:
    return json.dumps(resource.model_dump(), default=str)


def test_database_password_never_reaches_the_resource_config(tmp_path, monkeypatch):
    monkeypatch.setenv("AURORA_GOVERNANCE_URL", SECRET_URL)
    monkeypatch.setenv("AURORA_MLFLOW_TRACKING_URI", SECRET_URL.replace("aurora", "mlflow"))
    resources = build_resources(Settings(home=tmp_path), "local")
    for name in ("governance", "registry"):
        assert "s3cret-pw" not in _config(resources[name]), name
    # The value is read when a run starts, from the variable the config names.
    with dg.build_resources({"governance": resources["governance"]}) as built:
        assert built.governance.database_url == SECRET_URL


def test_local_profile_defaults_to_sqlite_under_the_home(tmp_path, monkeypatch):
    monkeypatch.delenv("AURORA_GOVERNANCE_URL", raising=False)
    monkeypatch.delenv("AURORA_MLFLOW_TRACKING_URI", raising=False)
    resources = build_resources(Settings(home=tmp_path), "local")
    assert resources["governance"].database_url == f"sqlite:///{tmp_path / 'governance.db'}"
    assert resources["registry"].tracking_uri.startswith(f"sqlite:///{tmp_path}")
    assert set(resources) >= {"spark", "lake", "registry", "artifacts", "governance", "dbt"}


def test_cluster_profile_names_the_variables_it_lacks(tmp_path, monkeypatch):
    for name in ("AURORA_SPARK_MASTER", "AURORA_GOVERNANCE_URL", "AURORA_ARTIFACT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AURORA_MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    with pytest.raises(SpecError, match="AURORA_SPARK_MASTER.*AURORA_GOVERNANCE_URL"):
        build_resources(Settings(home=tmp_path), "cluster")


def _cluster_env(tmp_path, monkeypatch, identity: str = "token") -> None:
    from aurora_pipelines.settings import DEFAULT_POLICY

    policy = tmp_path / f"policy_{identity}.yaml"
    policy.write_text(
        DEFAULT_POLICY.read_text().replace("identity: trust_env", f"identity: {identity}")
    )
    monkeypatch.setenv("AURORA_POLICY", str(policy))
    monkeypatch.setenv("AURORA_SPARK_MASTER", "spark://127.0.0.1:7077")
    monkeypatch.setenv("AURORA_METASTORE_URL", "jdbc:postgresql://127.0.0.1:5432/metastore")
    monkeypatch.setenv("AURORA_MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    monkeypatch.setenv("AURORA_GOVERNANCE_URL", SECRET_URL)
    monkeypatch.setenv("AURORA_AUDIT_HEAD", str(tmp_path / "audit-head"))
    monkeypatch.setenv("AURORA_ARTIFACT_URL", "s3://bundles/aurora")


def test_cluster_profile_takes_s3_artifacts_and_keeps_urls_as_variables(tmp_path, monkeypatch):
    _cluster_env(tmp_path, monkeypatch)
    resources = build_resources(Settings(home=tmp_path), "cluster")
    assert type(resources["artifacts"]).__name__ == "S3ArtifactStoreResource"
    assert resources["artifacts"].bucket == "bundles"
    assert "s3cret-pw" not in _config(resources["governance"])


def test_cluster_profile_refuses_a_trust_env_policy(tmp_path, monkeypatch):
    _cluster_env(tmp_path, monkeypatch, identity="trust_env")
    with pytest.raises(SpecError, match="refuses policy .*identity: trust_env.*identity: token"):
        build_resources(Settings(home=tmp_path), "cluster")


@pytest.mark.parametrize("name", ["AURORA_AUDIT_HEAD", "AURORA_METASTORE_URL"])
def test_cluster_profile_requires_the_audit_head_and_a_shared_metastore(
    tmp_path, monkeypatch, name
):
    _cluster_env(tmp_path, monkeypatch)
    monkeypatch.delenv(name)
    with pytest.raises(SpecError, match=f"cluster needs {name}"):
        build_resources(Settings(home=tmp_path), "cluster")


def test_cluster_profile_refuses_a_local_artifact_directory(tmp_path, monkeypatch):
    _cluster_env(tmp_path, monkeypatch)
    monkeypatch.setenv("AURORA_ARTIFACT_URL", str(tmp_path / "artifacts"))
    with pytest.raises(SpecError, match="is not s3://bucket/prefix"):
        build_resources(Settings(home=tmp_path), "cluster")


def test_runs_execute_their_steps_in_the_run_worker_on_every_profile():
    from aurora_pipelines.defs.definitions import defs
    from aurora_pipelines.defs.resources.profiles import build_executor

    assert build_executor("cluster") is dg.in_process_executor
    assert build_executor("local") is dg.in_process_executor
    assert defs.executor is dg.in_process_executor


def test_an_unknown_deployment_profile_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("AURORA_DEPLOYMENT", "laptop")
    with pytest.raises(SpecError, match="'laptop' is not a deployment profile.*local, cluster"):
        build_resources(Settings(home=tmp_path))


def test_the_actor_comes_from_the_run_tags_not_the_process(tmp_path, monkeypatch):
    from aurora_pipelines.defs.assets.metadata import actor_of

    monkeypatch.setenv("AURORA_USER", "whoever_started_the_webserver")
    seen: list = []

    @dg.asset
    def probe(context: dg.AssetExecutionContext, governance: GovernanceResource) -> None:
        seen.append(actor_of(context))

    resources = {"governance": GovernanceResource(home=str(tmp_path), policy_path="unused")}
    dg.materialize([probe], resources=resources, tags={"aurora/actor": "ds_bob"})
    dg.materialize([probe], resources=resources, tags={"dagster/user": "mrm_carol"})
    dg.materialize([probe], resources=resources)
    assert seen == ["ds_bob", "mrm_carol", None]
