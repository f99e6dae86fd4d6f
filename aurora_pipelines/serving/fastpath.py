"""A numpy re-implementation of Aurora's fitted preprocessing, for single-record latency.

sklearn's ColumnTransformer costs ~4 ms per call on one row here (input validation, pandas
round trips per step), 40x the estimator itself. Aurora's pipelines are always the same
shape (training/algorithms.py `build_pipeline`): median-impute (+ standard-scale) the
numeric columns, most-frequent-impute + one-hot the categorical ones. This module reads the
fitted statistics out of those steps and applies them with plain numpy, then calls the
fitted estimator on the matrix. Anything of another shape is not compiled (`None`) and
serves through sklearn; a compiled pipeline is checked against sklearn on the model's
input example before use (`verified`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

_FEW_ROWS = 32  # up to this many rows, categorical lookups go value by value (serving)


@dataclass(frozen=True)
class _Numeric:
    columns: list[str]
    fill: np.ndarray
    mean: np.ndarray | None
    scale: np.ndarray | None

    def _impute_and_scale(self, x: np.ndarray) -> np.ndarray:
        """The fitted imputer then scaler, on the float matrix of `columns` (NaN = missing)."""
        missing = np.isnan(x)
        if missing.any():
            x = np.where(missing, self.fill, x)
        if self.mean is not None:
            x = x - self.mean
        if self.scale is not None:
            x = x / self.scale
        return x

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        x = np.column_stack([frame[c].to_numpy(dtype=float) for c in self.columns])
        return self._impute_and_scale(x)

    def transform_records(self, records: list[dict[str, Any]]) -> np.ndarray:
        """`transform` of validated JSON records (the service's request path): no pandas."""
        nan = math.nan
        x = np.array(
            [[nan if (v := r[c]) is None else v for c in self.columns] for r in records],
            dtype=float,
        )
        return self._impute_and_scale(x)

    def transform_arrow(self, batch: Any) -> np.ndarray:
        """`transform` of a pyarrow RecordBatch: nulls become NaN in the cast, no pandas."""
        import pyarrow as pa
        import pyarrow.compute as pc

        x = np.column_stack(
            [
                pc.cast(batch.column(c), pa.float64()).to_numpy(zero_copy_only=False)
                for c in self.columns
            ]
        )
        return self._impute_and_scale(x)


@dataclass(frozen=True)
class _Categorical:
    columns: list[str]
    fill: list[Any]
    index: list[dict[Any, int]]  # per column: category -> output column offset
    width: int

    def __post_init__(self) -> None:
        # Per column: the categories as a pandas Index (a hash lookup of the whole column in
        # C, no Python per row: batch scoring sends 100k-row batches) and their offsets.
        lookups = [(pd.Index(list(m), dtype=object), np.fromiter(m.values(), int, len(m)))
                   for m in self.index]  # fmt: skip
        object.__setattr__(self, "_lookups", lookups)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.zeros((len(frame), self.width))
        if len(frame) <= _FEW_ROWS:
            return self._transform_rows(frame, out)
        rows = np.arange(len(frame))
        for j, column in enumerate(self.columns):
            categories, offsets = self._lookups[j]  # type: ignore[attr-defined]
            values = frame[column].to_numpy(dtype=object)
            missing = pd.isna(values)
            if missing.any():  # None, NaN, pd.NA: the imputer's most frequent category
                values = values.copy()
                values[missing] = self.fill[j]
            found = categories.get_indexer(values)
            hit = found >= 0  # unknown categories encode as all zeros
            out[rows[hit], offsets[found[hit]]] = 1.0
        return out

    def _transform_rows(self, frame: pd.DataFrame, out: np.ndarray) -> np.ndarray:
        """Dict lookups per value: for the scoring service's few-record requests a pandas
        Index lookup costs more in set-up than it saves."""
        for j, column in enumerate(self.columns):
            lookup, fill = self.index[j], self.fill[j]
            for i, value in enumerate(frame[column].tolist()):
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    value = fill
                position = lookup.get(value)
                if position is not None:  # unknown categories encode as all zeros
                    out[i, position] = 1.0
        return out

    def transform_records(self, records: list[dict[str, Any]]) -> np.ndarray:
        """`transform` of validated JSON records: one dict lookup per value, no pandas."""
        out = np.zeros((len(records), self.width))
        for j, column in enumerate(self.columns):
            lookup, fill = self.index[j], self.fill[j]
            for i, record in enumerate(records):
                value = record[column]
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    value = fill
                position = lookup.get(value)
                if position is not None:  # unknown categories encode as all zeros
                    out[i, position] = 1.0
        return out

    def transform_arrow(self, batch: Any) -> np.ndarray:
        """`transform` of a pyarrow RecordBatch: Arrow's hash lookup (`index_in`) per column,
        no Python object per value; a column whose type Arrow cannot match against the
        categories (mixed types) goes through the pandas lookup above."""
        import pyarrow as pa
        import pyarrow.compute as pc

        out = np.zeros((batch.num_rows, self.width))
        rows = np.arange(batch.num_rows)
        for j, column in enumerate(self.columns):
            categories, offsets = self._lookups[j]  # type: ignore[attr-defined]
            values = batch.column(column)
            try:
                if pa.types.is_floating(values.type):  # NaN is missing too: pandas' lookup
                    raise pa.ArrowTypeError(column)
                known = pa.array(list(categories), type=values.type)
                if values.null_count:
                    values = pc.fill_null(values, pa.scalar(self.fill[j], type=values.type))
                found = pc.index_in(values, value_set=known).fill_null(-1).to_numpy()
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                single = _Categorical([column], [self.fill[j]], [self.index[j]], self.width)
                out += single.transform(pd.DataFrame({column: values.to_pandas()}))
                continue
            hit = found >= 0
            out[rows[hit], offsets[found[hit]]] = 1.0
        return out


class _Linear:
    """A fitted LogisticRegression / Ridge / LinearRegression as one matrix product: sklearn's
    own predict_proba re-validates its input on every call, which cost more than the product
    on a single record (BENCHMARKS.md, serving_profile_gil). Used only when `verified`."""

    def __init__(self, estimator: Any) -> None:
        self.coef = np.asarray(estimator.coef_, dtype=float)
        self.intercept = np.asarray(estimator.intercept_, dtype=float)
        self.classes_ = getattr(estimator, "classes_", None)

    def _decision(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef.T + self.intercept

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.classes_ is not None:
            return self.classes_[self.predict_proba(X).argmax(axis=1)]
        return self._decision(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        d = self._decision(X)
        if d.ndim == 1 or d.shape[1] == 1:  # binary: the logistic of the one decision
            p = 1.0 / (1.0 + np.exp(-d.reshape(-1)))
            return np.column_stack([1.0 - p, p])
        d = d - d.max(axis=1, keepdims=True)  # multinomial: softmax
        e = np.exp(d)
        return e / e.sum(axis=1, keepdims=True)


def _linear(estimator: Any) -> _Linear | None:
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

    if type(estimator) in (LinearRegression, Ridge) or (
        # liblinear fits one-vs-rest, whose probabilities are not this softmax.
        type(estimator) is LogisticRegression and estimator.solver != "liblinear"
    ):
        return _Linear(estimator)
    return None


class CompiledPipeline:
    """preprocess (numpy) -> the fitted estimator (or its matrix-product form)."""

    def __init__(self, parts: list[_Numeric | _Categorical], estimator: Any) -> None:
        self.parts = parts
        self.estimator = estimator
        self._sklearn = estimator
        self._linear = _linear(estimator)
        if self._linear is not None:
            self.estimator = self._linear

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = [part.transform(frame) for part in self.parts]
        return blocks[0] if len(blocks) == 1 else np.hstack(blocks)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict_proba(self.transform(frame)))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.estimator.predict(self.transform(frame)))

    def transform_records(self, records: list[dict[str, Any]]) -> np.ndarray:
        """`transform` of validated JSON records (the scoring service: no DataFrame)."""
        blocks = [part.transform_records(records) for part in self.parts]
        return blocks[0] if len(blocks) == 1 else np.hstack(blocks)

    def transform_arrow(self, batch: Any) -> np.ndarray:
        """`transform` of a pyarrow RecordBatch (batch scoring's executors)."""
        blocks = [part.transform_arrow(batch) for part in self.parts]
        return blocks[0] if len(blocks) == 1 else np.hstack(blocks)

    def verified(self, model: Any, example: pd.DataFrame) -> bool:
        """True when this pipeline answers like `model` on `example`, from a frame and from
        JSON-like records (the two ways the service and batch scoring call it). A matrix-
        product form that does not match is dropped for the fitted estimator itself."""
        if self._check(model, example):
            return True
        if self.estimator is self._sklearn:
            return False
        self.estimator = self._sklearn
        return self._check(model, example)

    def _check(self, model: Any, example: pd.DataFrame) -> bool:
        try:
            records = example.astype(object).where(example.notna(), None).to_dict("records")
            if hasattr(model, "predict_proba"):
                expected = model.predict_proba(example)
                from_records = self.estimator.predict_proba(self.transform_records(records))
                return bool(
                    np.allclose(self.predict_proba(example), expected)
                    and np.allclose(from_records, expected)
                )
            expected = model.predict(example)
            from_records = self.estimator.predict(self.transform_records(records))
            return bool(
                np.allclose(self.predict(example), expected) and np.allclose(from_records, expected)
            )
        except Exception:
            return False


def _numeric(steps: dict[str, Any], columns: list[str]) -> _Numeric | None:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    if set(steps) - {"impute", "scale"} or not isinstance(steps.get("impute"), SimpleImputer):
        return None
    scaler = steps.get("scale")
    if scaler is not None and not isinstance(scaler, StandardScaler):
        return None
    imputer = steps["impute"]
    if imputer.add_indicator or len(imputer.statistics_) != len(columns):
        return None
    return _Numeric(
        columns,
        np.asarray(imputer.statistics_, dtype=float),
        None if scaler is None or scaler.mean_ is None else np.asarray(scaler.mean_, float),
        None if scaler is None or scaler.scale_ is None else np.asarray(scaler.scale_, float),
    )


def _categorical(steps: dict[str, Any], columns: list[str]) -> _Categorical | None:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    from aurora_pipelines.training.algorithms import MissingAsNaN

    if list(steps) != ["missing", "impute", "onehot"]:
        return None
    missing, imputer, encoder = steps["missing"], steps["impute"], steps["onehot"]
    if not (
        isinstance(missing, MissingAsNaN)
        and isinstance(imputer, SimpleImputer)
        and isinstance(encoder, OneHotEncoder)
    ):
        return None
    infrequent = getattr(encoder, "infrequent_categories_", None) or []
    if imputer.add_indicator or encoder.drop is not None or any(c is not None for c in infrequent):
        return None
    index: list[dict[Any, int]] = []
    offset = 0
    for categories in encoder.categories_:
        index.append({_key(c): offset + k for k, c in enumerate(categories)})
        offset += len(categories)
    return _Categorical(columns, [_key(v) for v in imputer.statistics_], index, offset)


def _key(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def compile_pipeline(model: Any) -> CompiledPipeline | None:
    """The numpy version of an Aurora pipeline, or None if `model` has another shape."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline) or list(model.named_steps) != ["preprocess", "model"]:
        return None
    preprocess, estimator = model.named_steps["preprocess"], model.named_steps["model"]
    if not isinstance(preprocess, ColumnTransformer) or hasattr(estimator, "feature_names_in_"):
        return None
    parts: list[_Numeric | _Categorical] = []
    for name, transformer, columns in preprocess.transformers_:
        if name == "remainder":
            if transformer != "drop":
                return None
            continue
        if not isinstance(transformer, Pipeline):
            return None
        steps = dict(transformer.named_steps)
        build = {"numeric": _numeric, "categorical": _categorical}.get(name)
        part = build(steps, [str(c) for c in columns]) if build else None
        if part is None:
            return None
        parts.append(part)
    return CompiledPipeline(parts, estimator) if parts else None
