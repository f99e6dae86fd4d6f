"""Multiclass monitoring on real Spark and Delta: batch scores that carry per-class
probabilities (`class_probabilities: map<string,double>`) get a PSI per class score, and the
performance window measures the multiclass metric the champion was trained on (defect 4: a
binary `score` and threshold were all monitoring looked at)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from deltalake import write_deltalake
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from aurora_pipelines.lake import delta
from aurora_pipelines.specs import MonitoringSpec
from tests.factories import in_memory_version

DAY = "2026-11-20"
FEATURES = ["f1", "f2"]
PROBABILITIES = pa.map_(pa.string(), pa.float64())


def _frame(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "entity_id": [f"{seed}-{i}" for i in range(rows)],
            "f1": rng.normal(loc=shift, size=rows),
            "f2": rng.normal(size=rows),
        }
    )
    logits = np.column_stack([frame.f1, frame.f2, -frame.f1 - frame.f2])
    frame["label"] = (logits + rng.gumbel(size=(rows, 3))).argmax(axis=1)
    return frame


def _scores(model, frame: pd.DataFrame, **extra) -> pa.Table:
    """Scores as batch scoring writes them for a classifier: max probability, argmax class and
    the class probabilities."""
    proba = model.predict_proba(frame[FEATURES])
    classes = [str(c) for c in model.classes_]
    table = pd.DataFrame(
        {
            "entity_id": frame["entity_id"],
            "score": proba.max(axis=1),
            "prediction": model.classes_[proba.argmax(axis=1)].astype("int64"),
            "role": "champion",
            **extra,
        }
    )
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    maps = pa.array([list(zip(classes, row, strict=True)) for row in proba], type=PROBABILITIES)
    return arrow.append_column("class_probabilities", maps)


@pytest.fixture(scope="module")
def world(spark, tmp_path_factory):
    from aurora_pipelines.monitoring.stage import MonitoringPaths

    tmp = tmp_path_factory.mktemp("multiclass")
    train = _frame(3000, seed=1)
    model = LogisticRegression().fit(train[FEATURES], train["label"])
    champion = in_memory_version(
        model, FEATURES, name="iris_like", primary_metric="f1", metrics={"holdout_f1": 0.9}
    )
    paths = MonitoringPaths(
        features=tmp / "features",
        scoring_features=tmp / "scoring_features",
        batch_scores=tmp / "batch_scores",
        prediction_log=tmp / "prediction_log",
        uat_scores=tmp / "uat_scores",
        references=tmp / "reference",
        drift=tmp / "drift",
        performance=tmp / "performance",
        reports=tmp / "reports",
    )
    delta.write_table(paths.features, train)
    write_deltalake(str(paths.uat_scores), _scores(model, train))  # the reference scores
    batch = _frame(2000, seed=2, shift=1.5)  # more class 0, fewer class 2
    delta.write_table(paths.scoring_features, batch.drop(columns=["label"]))
    write_deltalake(str(paths.batch_scores), _scores(model, batch, date=DAY), partition_by=["date"])
    delta.write_table(tmp / "labels", batch[["entity_id", "label"]])
    monitoring = MonitoringSpec(labels={"kind": "delta", "path": str(tmp / "labels")})
    return {"paths": paths, "champion": champion, "batch": batch, "monitoring": monitoring}


def _run(stage, world, spark, **extra):
    return stage(
        spark,
        world["paths"],
        world["monitoring"],
        experiment="iris_like",
        day=DAY,
        champion=world["champion"],
        id_column="entity_id",
        **extra,
    )


def test_prediction_drift_has_a_psi_per_class_score(world, spark):
    from aurora_pipelines.monitoring.reference import class_score_feature
    from aurora_pipelines.monitoring.series import latest_window
    from aurora_pipelines.monitoring.stage import PREDICTION_CHECK, run_drift_window

    result = _run(run_drift_window, world, spark)
    per_class = {f.column: f for f in result.drift.class_scores}
    assert set(per_class) == {class_score_feature(c) for c in ("0", "1", "2")}
    assert per_class[class_score_feature("0")].severity == "error"  # the shift favours class 0
    rows = latest_window(world["paths"].drift, DAY)
    assert {class_score_feature(c) for c in ("0", "1", "2")} <= set(rows["column"])
    assert set(result.as_metadata()["class_score_psi"]) == set(per_class)
    check = next(v for v in result.checks() if v.name == PREDICTION_CHECK)
    assert not check.passed and class_score_feature("0") in check.description


def test_performance_measures_the_trained_multiclass_metric(world, spark):
    from aurora_pipelines.monitoring.stage import run_performance_window

    result = _run(run_performance_window, world, spark, target="label")
    batch, model = world["batch"], world["champion"].model
    expected = f1_score(batch["label"], model.predict(batch[FEATURES]), average="macro")
    metadata = result.as_metadata()
    assert metadata["metric"] == "f1" and metadata["labelled_rows"] == len(batch)
    assert metadata["value"] == pytest.approx(expected, abs=1e-6)
    assert metadata["training_value"] == 0.9
    assert isinstance(result.series, Path) and result.series_version == 0
