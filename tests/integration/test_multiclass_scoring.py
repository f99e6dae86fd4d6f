"""Multiclass end to end on real Spark, Delta and MLflow: a 3-class version (iris, string class
labels) trained by the trainer and registered, then scored in batch (sklearn in mapInPandas
and a Spark MLlib pipeline), judged in UAT and compared champion vs challenger, all from the
scores schema's `class_probabilities` and argmax `prediction` (serving/batch.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, load_wine
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from aurora_pipelines.lake import delta
from aurora_pipelines.registry.model_version import (
    PRIMARY_METRIC_TAG,
    PROBLEM_TYPE_TAG,
    load_model_version,
)
from aurora_pipelines.serving.ab_comparison import compare_scores
from aurora_pipelines.serving.batch import (
    ScoringModel,
    probability_matrix,
    score_batch,
    score_day,
    write_day,
)
from tests.factories import in_memory_version, make_spec, register_model, train_model

NAME = "iris_multiclass"
DAY = "2026-05-01"
TARGET = "species"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
CLASSES = ("setosa", "versicolor", "virginica")


def _iris() -> pd.DataFrame:
    data = load_iris(as_frame=True)
    frame = data.frame.rename(columns=dict(zip(data.feature_names, FEATURES, strict=True)))
    frame[TARGET] = np.asarray(data.target_names)[data.target]
    frame["id"] = [f"I{i:03d}" for i in range(len(frame))]
    return frame.drop(columns=["target"])


@pytest.fixture(scope="module")
def iris() -> pd.DataFrame:
    return _iris()


@pytest.fixture(scope="module")
def registered(tmp_path_factory, iris: pd.DataFrame):
    """The iris version as train/model leaves it: trained, registered, its features in Delta."""
    root = tmp_path_factory.mktemp("multiclass")
    features = root / "lake" / NAME / "features"
    delta.write_table(features, iris)
    result = train_model(
        iris, target=TARGET, primary_metric="accuracy", id_column="id", time_column=None
    )
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    version = register_model(tracking_uri, NAME, result, iris, features)
    return root, tracking_uri, version.version, features


@pytest.fixture(scope="module")
def handle(registered):
    _, tracking_uri, version, _ = registered
    return load_model_version(tracking_uri, NAME, version)


def test_registration_tags_what_the_version_was_trained_as(registered, handle):
    from aurora_pipelines.registry.mlflow_registry import version_tags

    _, tracking_uri, version, _ = registered
    tags = version_tags(tracking_uri, NAME, version)
    assert tags[PROBLEM_TYPE_TAG] == "classification" and tags[PRIMARY_METRIC_TAG] == "accuracy"
    assert handle.is_multiclass and handle.class_keys == CLASSES
    assert handle.primary_metric == "accuracy" and handle.greater_is_better
    assert handle.input_columns == tuple(FEATURES)


def test_a_multiclass_version_scores_its_argmax_class_and_every_class_probability(
    spark, iris, handle, tmp_path: Path
):
    path = tmp_path / "batch_scores"
    scored = score_day(
        spark.createDataFrame(iris),
        [ScoringModel("champion", handle)],
        day=DAY,
        time_column=None,
        id_column="id",
        label_column=TARGET,
    )
    write_day(scored, str(path), DAY)
    table = delta.read_pandas(path).sort_values("id").reset_index(drop=True)
    types = dict(delta.schema_columns(path))
    assert types["prediction"] == types["label"] == 'PrimitiveType("string")'
    assert types["class_probabilities"].startswith("Map")
    rows = iris.set_index("id").loc[table["id"]]
    proba = handle.model.predict_proba(rows[FEATURES])
    # The class label itself, not the positive-class cut of column 1.
    assert list(table["prediction"]) == list(handle.model.predict(rows[FEATURES]))
    assert set(table["prediction"]) == set(CLASSES)
    np.testing.assert_allclose(table["score"], proba.max(axis=1))
    np.testing.assert_allclose(probability_matrix(table["class_probabilities"], CLASSES), proba)
    assert list(table["label"]) == list(rows[TARGET])


def test_a_spark_mllib_multiclass_pipeline_scores_into_the_same_schema(spark, iris, handle):
    from pyspark.sql import functions as F

    from aurora_pipelines.training.algorithms import get_algorithm
    from aurora_pipelines.training.spark_ml import LABEL, build_spark_pipeline

    data = load_wine(as_frame=True).frame.rename(columns=lambda c: c.replace("/", "_"))
    data["id"] = [f"W{i:03d}" for i in range(len(data))]
    columns = [c for c in data.columns if c not in ("target", "id")]
    frame = spark.createDataFrame(data).withColumn(LABEL, F.col("target").cast("double"))
    pipeline = build_spark_pipeline(
        get_algorithm("spark_logistic_regression", "classification"),
        "classification",
        columns,
        [],
        seed=1,
    )
    version = in_memory_version(pipeline.fit(frame), columns, name="wine")
    assert version.class_keys == ("0", "1", "2")
    scored = score_batch(frame, version, id_column="id", label_column="target")
    sklearn_scored = score_batch(
        spark.createDataFrame(iris), handle, id_column="id", label_column=TARGET
    )
    assert scored.dtypes == sklearn_scored.dtypes
    local = scored.toPandas().set_index("id").loc[data["id"]]
    expected = version.model.transform(frame).toPandas().set_index("id").loc[data["id"]]
    proba = np.vstack(expected["probability"].map(lambda v: v.toArray()))
    assert list(local["prediction"]) == [str(int(p)) for p in expected["prediction"]]
    np.testing.assert_allclose(local["score"], proba.max(axis=1))
    np.testing.assert_allclose(probability_matrix(local["class_probabilities"], "012"), proba)
    assert list(local["label"]) == [str(t) for t in data["target"]]


def test_binary_and_regression_scores_keep_their_column_types(spark, iris, tmp_path: Path):
    from pyspark.sql import functions as F

    binary_target = (iris[TARGET] == "virginica").astype("int64")
    binary = in_memory_version(LogisticRegression().fit(iris[FEATURES], binary_target), FEATURES)
    rows = spark.createDataFrame(iris.assign(flag=binary_target, width=iris["petal_width"]))
    scored = score_batch(rows, binary, id_column="id", label_column="flag")
    types = dict(scored.dtypes)
    assert types["prediction"] == "bigint" and types["label"] == "double"
    local = scored.toPandas()
    positive = [p["1"] for p in local["class_probabilities"]]
    np.testing.assert_allclose(local["score"], positive)
    regressor = LinearRegression().fit(iris[FEATURES[:3]], iris["petal_width"])
    regression = in_memory_version(regressor, FEATURES[:3], problem_type="regression")
    values = score_batch(rows, regression, id_column="id", label_column="width").toPandas()
    assert values["class_probabilities"].isna().all()
    assert (values["prediction"] == values["score"]).all()

    # A table written before `class_probabilities` existed takes the new column in.
    path = tmp_path / "old_scores"
    delta.write_partition(
        path,
        scored.drop("class_probabilities").withColumn("date", F.lit("2026-04-30")).toArrow(),
        column="date",
        value="2026-04-30",
    )
    today = score_day(
        rows,
        [ScoringModel("champion", binary)],
        day=DAY,
        time_column=None,
        id_column="id",
        label_column="flag",
    )
    write_day(today, str(path), DAY)
    table = delta.read_pandas(path)
    assert set(table["date"]) == {"2026-04-30", DAY}
    assert table.loc[table["date"] == "2026-04-30", "class_probabilities"].isna().all()


def test_uat_of_a_multiclass_version_reports_multiclass_metrics(spark, registered, handle):
    from aurora_pipelines.deploy.uat import run_uat

    root, tracking_uri, version, features = registered
    spec = make_spec(
        NAME,
        target=TARGET,
        id_column="id",
        training={"primary_metric": "accuracy", "metric_min": 0.8, "holdout_fraction": 0.4},
    )
    run = run_uat(
        spark,
        spec,
        tracking_uri=tracking_uri,
        model_version=version,
        features_path=features,
        output_path=root / "lake" / NAME / "serve" / "uat_scores",
        reports_dir=root / "reports",
    )
    scores = delta.read_pandas(root / "lake" / NAME / "serve" / "uat_scores")
    y, predicted = scores[TARGET], scores["prediction"]
    proba = probability_matrix(scores["class_probabilities"], CLASSES)
    metrics = run.report.metrics
    assert len(scores) == run.report.rows and set(y) == set(CLASSES)
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, predicted))
    assert metrics["f1"] == pytest.approx(f1_score(y, predicted, average="macro"))
    assert metrics["log_loss"] == pytest.approx(log_loss(y, proba, labels=list(CLASSES)))
    assert metrics["roc_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))
    summary = run.report.score_summary
    assert summary["predicted_share_setosa"] == pytest.approx((predicted == "setosa").mean())
    assert "positive_rate" not in summary
    (verdict,) = run.checks()
    assert verdict.metadata["metric"] == "accuracy"
    assert verdict.passed == (metrics["accuracy"] >= 0.8)


def test_ab_comparison_of_multiclass_versions_per_class_psi_and_metrics(spark, iris, handle):
    # A weaker challenger: it only sees the sepal width.
    blind = iris[FEATURES].assign(sepal_length=0.0, petal_length=0.0, petal_width=0.0)
    weak = in_memory_version(LogisticRegression().fit(blind, iris[TARGET]), FEATURES, version="9")
    scores = score_day(
        spark.createDataFrame(iris),
        [ScoringModel("champion", handle), ScoringModel("challenger", weak)],
        day=DAY,
        time_column=None,
        id_column="id",
        label_column=TARGET,
    )
    result = compare_scores(scores, id_column="id", problem_type="classification")
    assert result is not None and result.rows == len(iris)
    assert set(result.class_score_psi) == set(CLASSES)
    assert all(psi > 0 for psi in result.class_score_psi.values())
    local = scores.toPandas()
    a = local[local["role"] == "champion"].set_index("id").sort_index()
    b = local[local["role"] == "challenger"].set_index("id").loc[a.index]
    assert result.agreement_rate == pytest.approx((a["prediction"] == b["prediction"]).mean())
    assert 0.0 < result.agreement_rate < 1.0
    for role, side in (("champion", a), ("challenger", b)):
        proba = probability_matrix(side["class_probabilities"], CLASSES)
        m = result.metrics
        assert m[f"{role}_accuracy"] == pytest.approx(
            accuracy_score(side["label"], side["prediction"])
        )
        assert m[f"{role}_f1_macro"] == pytest.approx(
            f1_score(side["label"], side["prediction"], average="macro")
        )
        assert m[f"{role}_log_loss"] == pytest.approx(log_loss(side["label"], proba), rel=1e-6)
        assert m[f"{role}_roc_auc_ovr"] == pytest.approx(
            roc_auc_score(side["label"], proba, multi_class="ovr"), abs=1e-3
        )
    assert result.metrics["champion_accuracy"] > result.metrics["challenger_accuracy"]
    row = result.to_frame()
    assert {f"score_psi_{k}" for k in CLASSES} <= set(row.columns)
    assert "challenger_roc_auc_ovr" in result.as_metadata()
    # The UI's side-by-side table pairs each metric of the two versions.
    assert "| f1_macro |" in result.as_metadata()["comparison"]
    assert sum(result.histogram.champion) == len(iris)
