"""Batch scoring of an Aurora pipeline on Spark takes the executors' numpy fast path
(serving/batch_worker.py) and answers exactly what sklearn answers, with missing values and
categories the model never saw."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aurora_pipelines.serving import batch_worker
from aurora_pipelines.serving.batch import score_batch
from aurora_pipelines.sources.sample_data import ID_COLUMN, TARGET, generate_credit_data
from tests.factories import in_memory_version, train_model


def test_spark_scores_equal_sklearn_on_the_fast_path(spark):
    data = generate_credit_data(600, seed=11).drop(
        columns=["application_date", "last_delinquency_date"]
    )
    result = train_model(data, algorithms=["logistic_regression"], cv_folds=2, time_column=None)
    features = list(result.feature_columns)
    batch = data.head(400).copy()
    batch.loc[0:20, "region"] = None  # missing categorical -> imputed
    batch.loc[21:40, "annual_income"] = np.nan  # missing numeric -> imputed
    batch.loc[41:60, "loan_purpose"] = "never_seen"  # unknown category -> all zeros
    version = in_memory_version(result.model, features, threshold=0.3)
    assert batch_worker.Scorer(result.model).compiled is not None  # the fast path applies

    scored = score_batch(
        spark.createDataFrame(batch[[ID_COLUMN, *features, TARGET]]),
        version,
        id_column=ID_COLUMN,
        label_column=TARGET,
    ).toPandas()

    expected = result.model.predict_proba(batch[features])[:, 1]
    by_id = scored.set_index(ID_COLUMN).loc[batch[ID_COLUMN].astype(str)]
    np.testing.assert_allclose(by_id["score"].to_numpy(), expected, rtol=1e-9)
    assert (by_id["prediction"].to_numpy() == (expected >= 0.3)).all()
    assert set(by_id["model_name"]) == {"toy"} and set(by_id["role"]) == {"champion"}
    assert pd.api.types.is_datetime64_any_dtype(by_id["scored_at"])
    np.testing.assert_array_equal(by_id["label"].to_numpy(), batch[TARGET].to_numpy(float))
    probabilities = by_id["class_probabilities"].map(dict)
    np.testing.assert_allclose([p["1"] for p in probabilities], expected, rtol=1e-9)
