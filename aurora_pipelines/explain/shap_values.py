"""SHAP explanations of an Aurora model (an sklearn Pipeline: preprocess -> estimator).

SHAP runs on the estimator over the *transformed* features, with the fastest exact explainer
for it (TreeExplainer for tree ensembles, LinearExplainer for linear models; a permutation
explainer with a small background otherwise), then one-hot columns are summed back into the
input column they came from, so every explanation speaks in the user's feature names.
For classification the values explain the positive class's score (binary) or, for
multiclass, the predicted class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aurora_pipelines.errors import DataError

BACKGROUND_ROWS = 100


@dataclass(frozen=True)
class GlobalExplanation:
    """Mean |SHAP| per input feature (descending) and the strongest pairwise interactions."""

    method: str
    rows: int
    importance: pd.DataFrame  # feature, mean_abs_shap, share
    interactions: list[dict[str, Any]]  # feature, partner, strength


def aurora_pipeline(model: Any) -> Any:
    """The fitted `preprocess` + `model` pipeline inside `model`.

    A calibrated model (CalibratedClassifierCV) wraps fitted copies of the pipeline; its
    SHAP values explain the uncalibrated score, which calibration maps monotonically.
    """
    calibrated = getattr(model, "calibrated_classifiers_", None)
    if calibrated:
        return calibrated[0].estimator
    return model


def _parts(model: Any) -> tuple[Any, Any]:
    steps = getattr(aurora_pipeline(model), "named_steps", None)
    if not steps or "preprocess" not in steps or "model" not in steps:
        raise DataError(
            "the model is not an Aurora pipeline (steps `preprocess` and `model`); explain a "
            "model trained by Aurora"
        )
    return steps["preprocess"], steps["model"]


def input_columns(model: Any) -> list[str]:
    """The input columns the pipeline was fitted on, in order."""
    preprocess, _ = _parts(model)
    return [str(c) for c in preprocess.feature_names_in_]


def _group_matrix(model: Any) -> tuple[list[str], np.ndarray]:
    """(input features, matrix M) with transformed_values @ M = per-input-feature values."""
    preprocess, _ = _parts(model)
    out_names = [str(n) for n in preprocess.get_feature_names_out()]
    owners: list[str] = []
    for name, _transformer, columns in preprocess.transformers_:
        if name == "remainder":
            continue
        prefix = f"{name}__"
        produced = [n for n in out_names if n.startswith(prefix)]
        ordered = sorted((str(c) for c in columns), key=len, reverse=True)
        for out in produced:
            stem = out[len(prefix) :]
            owner = next((c for c in ordered if stem == c or stem.startswith(c + "_")), stem)
            owners.append(owner)
    features = list(dict.fromkeys(owners))
    matrix = np.zeros((len(out_names), len(features)))
    for i, owner in enumerate(owners):
        matrix[i, features.index(owner)] = 1.0
    return features, matrix


def _explainer(model: Any, background: np.ndarray) -> tuple[Any, str]:
    import shap

    _, estimator = _parts(model)
    kind = type(estimator).__name__
    # LGBM* / *XGB*: shap's TreeExplainer reads LightGBM and XGBoost boosters natively.
    if any(part in kind for part in ("Forest", "GradientBoosting", "Tree", "LGBM", "XGB")):
        return shap.TreeExplainer(estimator), "tree"
    if hasattr(estimator, "coef_"):
        return shap.LinearExplainer(estimator, background), "linear"

    def score(rows: np.ndarray) -> np.ndarray:
        if hasattr(estimator, "predict_proba"):
            return estimator.predict_proba(rows)
        return estimator.predict(rows)

    masker = shap.maskers.Independent(background, max_samples=BACKGROUND_ROWS)
    return shap.Explainer(score, masker, algorithm="permutation"), "permutation"


def _transform(model: Any, frame: pd.DataFrame) -> np.ndarray:
    preprocess, _ = _parts(model)
    return np.asarray(preprocess.transform(frame[input_columns(model)]), dtype=float)


def _class_slice(model: Any, values: np.ndarray, transformed: np.ndarray) -> np.ndarray:
    """(rows, features) SHAP values for the class being explained."""
    _, estimator = _parts(model)
    if values.ndim == 2:
        return values
    # (rows, features, classes): binary -> positive class, multiclass -> predicted class.
    if values.shape[2] == 2:
        return values[:, :, 1]
    predicted = np.argmax(estimator.predict_proba(transformed), axis=1)
    return values[np.arange(values.shape[0]), :, predicted]


def _base_value(model: Any, expected: Any, transformed: np.ndarray) -> float:
    expected = np.atleast_1d(np.asarray(expected, dtype=float))
    if expected.size == 1:
        return float(expected[0])
    if expected.size == 2:
        return float(expected[1])
    _, estimator = _parts(model)
    return float(expected[int(np.argmax(estimator.predict_proba(transformed[:1]), axis=1)[0])])


def _shap(
    model: Any, frame: pd.DataFrame, background: pd.DataFrame
) -> tuple[np.ndarray, float, str, list[str]]:
    """Per-input-feature SHAP values of `frame` (rows, features), base value, method, names."""
    bg = _transform(model, background.head(BACKGROUND_ROWS))
    rows = _transform(model, frame)
    explainer, method = _explainer(model, bg)
    explanation = explainer(rows)
    values = _class_slice(model, np.asarray(explanation.values, dtype=float), rows)
    features, matrix = _group_matrix(model)
    base = _base_value(
        model, explanation.base_values[0] if method != "tree" else explainer.expected_value, rows
    )
    return values @ matrix, base, method, features


def explain_global(
    model: Any, frame: pd.DataFrame, *, max_rows: int = 200, seed: int = 0, top: int = 3
) -> GlobalExplanation:
    """Mean |SHAP| per input feature on a sample of `frame`, and top interactions.

    Interactions are SHAP's cheap approximation (`shap.utils.approximate_interactions`): for
    each of the `top` most important features, the partner whose values best explain the
    spread of its SHAP values.
    """
    import shap

    if frame.empty:
        raise DataError("cannot explain a model on an empty frame; pass rows of its features")
    sample = frame.sample(n=min(max_rows, len(frame)), random_state=seed)
    values, _, method, features = _shap(model, sample, sample)
    mean_abs = np.abs(values).mean(axis=0)
    total = float(mean_abs.sum()) or 1.0
    importance = pd.DataFrame(
        {"feature": features, "mean_abs_shap": mean_abs, "share": mean_abs / total}
    ).sort_values("mean_abs_shap", ascending=False, ignore_index=True)
    # approximate_interactions bins raw feature values; give it numbers (categories as codes).
    raw = sample[features].copy()
    for column in raw.columns:
        if not pd.api.types.is_numeric_dtype(raw[column]) or raw[column].dtype == bool:
            raw[column] = raw[column].astype("category").cat.codes
    raw = raw.astype(float).fillna(raw.astype(float).median())
    interactions = []
    for feature in importance["feature"].head(top):
        index = features.index(feature)
        order = shap.utils.approximate_interactions(index, values, raw.to_numpy())
        partner = next((int(j) for j in order if int(j) != index), None)
        if partner is None:
            continue
        strength = float(np.abs(np.corrcoef(values[:, index], raw.iloc[:, partner])[0, 1]))
        interactions.append(
            {
                "feature": feature,
                "partner": features[partner],
                "strength": 0.0 if np.isnan(strength) else round(strength, 4),
            }
        )
    return GlobalExplanation(method, len(sample), importance, interactions)


def explain_record(
    model: Any, record: dict[str, Any] | pd.Series | pd.DataFrame, background: pd.DataFrame
) -> dict[str, Any]:
    """SHAP values of one record, per input feature: what serving returns with a prediction.

    `background` is a sample of training features (the model card writes one next to the
    card). Returns base_value + sum(contributions) = the explained score (positive-class
    probability/log-odds for binary classifiers, depending on the explainer; the prediction
    for regression), plus the prediction itself and the method.
    """
    if isinstance(record, pd.DataFrame):
        if len(record) != 1:
            raise DataError(f"explain_record takes one record, got {len(record)} rows")
        frame = record
    else:
        frame = pd.DataFrame([dict(record)])
    missing = [c for c in input_columns(model) if c not in frame.columns]
    if missing:
        raise DataError(
            f"record lacks feature(s) {', '.join(missing)}; send every model input column"
        )
    values, base, method, features = _shap(model, frame, background)
    inputs = frame[input_columns(model)]
    prediction = model.predict(inputs)[0]
    contributions = {f: float(v) for f, v in zip(features, values[0], strict=True)}
    ranked = sorted(contributions, key=lambda f: abs(contributions[f]), reverse=True)
    return {
        "prediction": prediction.item() if hasattr(prediction, "item") else prediction,
        "base_value": base,
        "contributions": contributions,
        "top_features": ranked[:5],
        "output": _output_scale(model, inputs, base + sum(contributions.values())),
        "method": method,
    }


def _output_scale(model: Any, inputs: pd.DataFrame, explained: float) -> str:
    """Which score base_value + contributions adds up to (explainers differ by model type)."""
    if not hasattr(model, "predict_proba"):
        return "prediction"
    proba = model.predict_proba(inputs)[0]
    p = float(proba[1] if len(proba) == 2 else proba.max())
    logit = float(np.log(max(p, 1e-12) / max(1 - p, 1e-12)))
    return "probability" if abs(explained - p) <= abs(explained - logit) else "log_odds"
