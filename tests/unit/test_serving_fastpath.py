"""The numpy fast path answers exactly like the sklearn pipeline; request validation and routing."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from aurora_pipelines.serving.fastpath import compile_pipeline
from aurora_pipelines.serving.router import in_challenger_bucket
from aurora_pipelines.serving.validation import (
    InputField,
    InputSchema,
    RequestInvalid,
    parse_body,
    to_frame,
    validate_records,
)
from aurora_pipelines.sources.sample_data import TARGET, generate_credit_data
from tests.factories import train_model

TYPES = {"int64": "long", "float64": "double", "bool": "boolean", "object": "string"}


def _train(algorithm: str, problem: str, target: str):
    data = generate_credit_data(600, seed=7)
    data = data.drop(columns=["application_date", "last_delinquency_date"])
    metric = "roc_auc" if problem == "classification" else "rmse"
    result = train_model(
        data.drop(columns=[TARGET]) if target != TARGET else data,
        target=target,
        problem_type=problem,
        algorithms=[algorithm],
        cv_folds=2,
        primary_metric=metric,
        time_column=None,
    )
    schema = InputSchema(
        tuple(InputField(c, TYPES[str(data[c].dtype)]) for c in result.feature_columns)
    )
    return result.model, schema, data


def _records(data, schema: InputSchema) -> list[dict]:
    rows = json.loads(data[schema.names].head(300).to_json(orient="records"))
    rows[0]["region"] = None  # missing categorical -> imputed
    rows[1]["annual_income"] = None  # missing numeric -> imputed
    rows[2]["loan_purpose"] = "never_seen"  # unknown category -> all zeros
    rows[3]["has_cosigner"] = None
    return rows


@pytest.mark.parametrize(
    ("algorithm", "problem", "target"),
    [
        ("logistic_regression", "classification", TARGET),
        ("hist_gradient_boosting", "classification", TARGET),
        ("ridge", "regression", "interest_rate"),
    ],
)
def test_fast_path_equals_sklearn(algorithm: str, problem: str, target: str) -> None:
    model, schema, data = _train(algorithm, problem, target)
    fast = compile_pipeline(model)
    assert fast is not None
    rows = _records(data, schema)
    validate_records(rows, schema)
    frame = to_frame(rows, schema)
    if problem == "classification":
        np.testing.assert_allclose(fast.predict_proba(frame), model.predict_proba(frame))
    else:
        np.testing.assert_allclose(fast.predict(frame), model.predict(frame))
    assert fast.verified(model, frame)
    one = to_frame(rows[2:3], schema)
    assert fast.verified(model, one)
    # Batch scoring's executors read Arrow batches: same matrix, nulls and unknowns included.
    arrow = pa.RecordBatch.from_pandas(frame, preserve_index=False)
    np.testing.assert_allclose(fast.transform_arrow(arrow), fast.transform(frame))
    # Linear models answer as one matrix product (sklearn's input checks skipped).
    linear = algorithm in ("logistic_regression", "ridge")
    assert (fast.estimator is not fast._sklearn) == linear
    # The service's request path goes from JSON records to the matrix without a DataFrame.
    np.testing.assert_allclose(fast.transform_records(rows), fast.transform(frame))
    np.testing.assert_allclose(fast.transform_records(rows[2:3]), fast.transform(one))


def test_other_shapes_are_not_compiled() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    assert compile_pipeline(LogisticRegression()) is None
    assert compile_pipeline(Pipeline([("model", LogisticRegression())])) is None


def test_validation_names_the_field_and_the_limit() -> None:
    schema = InputSchema((InputField("age", "long"), InputField("rate", "double")))
    with pytest.raises(RequestInvalid) as missing:
        validate_records([{"age": 3}], schema)
    assert missing.value.status == 422 and missing.value.field == "rate"
    for bad in ({"age": 1.5, "rate": 1}, {"age": "3", "rate": 1}, {"age": False, "rate": 1}):
        with pytest.raises(RequestInvalid) as wrong:
            validate_records([bad], schema)
        assert wrong.value.field == "age"
    validate_records([{"age": 3.0, "rate": 2}, {"age": None, "rate": None}], schema)
    # The precompiled check refuses what the worded one refuses (bools are not numbers).
    with pytest.raises(RequestInvalid, match="rate"):
        validate_records([{"age": 3, "rate": True}], schema)
    with pytest.raises(RequestInvalid) as too_many:
        parse_body(b'{"records": [{}, {}, {}]}', max_records=2, max_bytes=1000)
    assert too_many.value.status == 413
    with pytest.raises(RequestInvalid) as too_big:
        parse_body(b'{"records": [{}]}', max_records=2, max_bytes=5)
    assert too_big.value.status == 413
    with pytest.raises(RequestInvalid) as malformed:
        parse_body(b'{"records": [', max_records=2, max_bytes=1000)
    assert malformed.value.status == 400


def test_challenger_bucket_is_stable_and_close_to_the_share() -> None:
    ids = [f"APP-{i}" for i in range(4000)]
    picked = [in_challenger_bucket("credit", i, 0.2) for i in ids]
    assert picked == [in_challenger_bucket("credit", i, 0.2) for i in ids]
    assert 0.17 < sum(picked) / len(ids) < 0.23
    # Growing the share only adds entities: none moves back to the champion.
    wider = [in_challenger_bucket("credit", i, 0.5) for i in ids]
    assert all(w for p, w in zip(picked, wider, strict=True) if p)
