"""Unsupervised problem types in the engine: spec rules, the k search, the detectors and the
reduction, their bad-input errors and the task recommendations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.datasets import make_blobs

from aurora_pipelines.errors import DataError, SpecError
from aurora_pipelines.specs import UnsupervisedSpec
from aurora_pipelines.training.unsupervised.estimators import (
    unsupervised_outputs,
    unsupervised_response,
)
from aurora_pipelines.training.unsupervised.trainer import train_unsupervised
from tests.factories import make_spec


def _blobs(rows: int = 600, centers: int = 4, seed: int = 0) -> pd.DataFrame:
    X, _ = make_blobs(rows, centers=centers, n_features=3, cluster_std=0.7, random_state=seed)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    frame["id"] = range(rows)
    return frame


def _train(frame: pd.DataFrame, kind: str, **settings):
    return train_unsupervised(
        frame,
        problem_type=kind,
        settings=UnsupervisedSpec(**settings),
        seed=3,
        id_column="id",
        experiment="t",
    )


# spec


def test_clustering_spec_with_a_target_is_refused():
    with pytest.raises(ValidationError, match="takes no target.*remove it"):
        make_spec("seg", problem_type="clustering")


def test_supervised_spec_without_target_points_to_the_unsupervised_types():
    with pytest.raises(ValidationError, match="missing required field `target`.*clustering"):
        make_spec("churn", target=None)


def test_anomaly_spec_names_its_label_as_label_column_not_target():
    with pytest.raises(ValidationError, match="unsupervised.label_column: default_flag"):
        make_spec("fraud", problem_type="anomaly_detection")


def test_tasks_give_each_further_task_its_own_spec_and_model_name():
    spec = make_spec("credit", tasks=["classification", "clustering", "anomaly_detection"])
    names = [(s.name, s.problem_type.value, s.target) for s in spec.task_specs()]
    assert names == [
        ("credit", "classification", "default_flag"),
        ("credit_clustering", "clustering", None),
        ("credit_anomaly_detection", "anomaly_detection", None),
    ]
    # The classification label scores the detector; it never fits it.
    assert spec.task_specs()[2].unsupervised.label_column == "default_flag"
    with pytest.raises(ValidationError, match="only the first task may be supervised"):
        make_spec("credit", tasks=["classification", "regression"])


# clustering


def test_k_is_found_on_blobs_and_the_model_serves_cluster_and_distance():
    result = _train(_blobs(), "clustering", algorithms=["kmeans", "gaussian_mixture"])
    assert result.params["k"] == 4 and result.metrics["silhouette"] > 0.6
    assert {p["k"] for p in result.curve} == set(range(2, 11))
    profiles = result.report["cluster_profiles"]
    assert sum(p["size"] for p in profiles) == 600 and len(profiles) == 4
    answers = unsupervised_response(result.model, _blobs().head(2))
    assert set(answers[0]) == {"cluster", "distance"} and answers[0]["distance"] >= 0
    score, prediction, membership = unsupervised_outputs(result.model, _blobs().head(5))
    assert (membership.sum(axis=1) == 1).all()
    assert (membership.argmax(axis=1) == prediction).all()


def test_agglomerative_and_dbscan_serve_by_nearest_centre():
    for algorithm in ("agglomerative", "dbscan"):
        result = _train(_blobs(400), "clustering", algorithms=[algorithm], k_max=6)
        _, prediction, _ = unsupervised_outputs(result.model, _blobs(400))
        assert len(set(prediction)) >= 2, algorithm


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"k": 40}, r"unsupervised.k = 40 is outside \[2, 25\]"),
        ({"k_min": 30, "k_max": 40}, "k_min"),
    ],
)
def test_k_outside_two_to_half_the_rows_is_refused(settings, message):
    with pytest.raises(SpecError, match=message):
        _train(_blobs(50), "clustering", **settings)


def test_an_identifier_like_text_column_is_refused_not_one_hot_encoded():
    rows = 5000
    frame = pd.DataFrame(
        {"amount": np.arange(rows, dtype=float), "ref": [f"R{i:07d}" for i in range(rows)]}
    )
    frame["id"] = range(rows)
    with pytest.raises(DataError, match="'ref' has 5,000 distinct values.*does not one-hot"):
        _train(frame, "clustering")


# anomaly detection and dimensionality reduction


def _with_outliers(rows: int = 1000, share: float = 0.03) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(rows, 4)), columns=list("wxyz"))
    outliers = rng.random(rows) < share
    frame.loc[outliers, ["w", "x"]] += 6
    frame["id"], frame["is_fraud"] = range(rows), outliers.astype(int)
    return frame


def test_detectors_are_scored_by_average_precision_when_labels_exist():
    result = _train(_with_outliers(), "anomaly_detection", label_column="is_fraud")
    assert result.primary_metric == "average_precision"
    assert result.metrics["average_precision"] > 0.8  # base rate 0.03
    assert result.params["contamination_source"] == "estimated"
    assert 0.005 < result.metrics["contamination"] < 0.2
    answer = unsupervised_response(result.model, _with_outliers().head(1))[0]
    assert set(answer) == {"anomaly_score", "is_anomaly"}


def test_a_common_label_warns_to_use_classification():
    frame = _with_outliers()
    frame["is_fraud"] = (np.arange(len(frame)) % 5 < 2).astype(int)  # 40 %
    result = _train(
        frame, "anomaly_detection", label_column="is_fraud", algorithms=["isolation_forest"]
    )
    assert any("40%" in w and "classification" in w for w in result.warnings)
    assert "is_fraud" not in result.feature_columns


def test_components_are_kept_to_the_variance_target():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(500, 2))
    frame = pd.DataFrame(base @ rng.normal(size=(2, 6)) + 0.01 * rng.normal(size=(500, 6)))
    frame.columns = [f"v{i}" for i in range(6)]
    frame["id"] = range(500)
    result = _train(frame, "dimensionality_reduction", variance_target=0.95)
    assert result.params["components"] == 2
    assert result.metrics["explained_variance"] >= 0.95
    assert [p["component"] for p in result.curve if p["algorithm"] == "pca"][:2] == [1, 2]
    answer = unsupervised_response(result.model, frame.head(1))[0]
    assert list(answer["components"]) == ["pc1", "pc2"]


# recommendations


def test_recommendations_explain_the_tasks():
    from aurora_pipelines.recommend import recommend_for_frame

    seg = make_spec("seg", target=None, problem_type="clustering", id_column="id")
    recommendation = recommend_for_frame(_blobs(), seg)
    assert recommendation.algorithms[0].algorithm == "kmeans"
    assert any("no target column" in n for n in recommendation.notes)

    frame = _with_outliers()
    churn = make_spec("fraud", target="is_fraud", id_column="id", training={"cv_folds": 3})
    notes = recommend_for_frame(frame, churn).notes
    assert any("anomaly_detection as a complement" in n for n in notes)


@pytest.mark.parametrize("kind", ["clustering", "anomaly_detection", "dimensionality_reduction"])
def test_the_serving_fast_path_answers_as_the_pipeline(kind):
    from types import SimpleNamespace

    from aurora_pipelines.serving.models import LoadedModel

    frame = _blobs(300).drop(columns="id")
    frame["plan"] = np.where(frame["a"] > 0, "x", "y")
    result = train_unsupervised(frame, problem_type=kind, settings=UnsupervisedSpec(), seed=0)
    loaded = LoadedModel(
        name="m",
        version="1",
        model=result.model,
        schema=SimpleNamespace(names=list(frame.columns)),
        threshold=None,
        input_example=frame.head(5),
    )
    assert loaded.fast_path
    answers, scores, _ = loaded.score(frame.head(4))
    expected = unsupervised_response(result.model, frame.head(4))
    served = pd.json_normalize(answers).drop(columns="model_version")
    pd.testing.assert_frame_equal(served, pd.json_normalize(expected), check_exact=False)
    assert np.allclose(scores, unsupervised_outputs(result.model, frame.head(4))[0])
