"""XGBoost's classifier taking any labels, as every other Aurora classifier does.

`XGBClassifier` accepts only the labels 0..k-1; Aurora's targets may be strings or any
integers. This subclass encodes the labels at fit and decodes them in `predict` and
`classes_`, so the trainer, serving and UAT treat it like a scikit-learn classifier. It lives
in its own module because importing it imports xgboost, which the code location must not
pay for at load; skops finds the class here when it loads a stored model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xgboost import XGBClassifier


class LabelledXGBClassifier(XGBClassifier):
    """`XGBClassifier` that learns the sorted unique labels of `y` and predicts them back."""

    def fit(self, X: Any, y: Any, **kwargs: Any) -> LabelledXGBClassifier:
        labels = np.unique(np.asarray(y))
        encoded = np.searchsorted(labels, np.asarray(y))
        super().fit(X, encoded, **kwargs)
        self.labels_ = labels
        return self

    @property
    def classes_(self) -> np.ndarray:
        labels = getattr(self, "labels_", None)
        return labels if labels is not None else np.arange(self.n_classes_)

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        return self.classes_[np.asarray(super().predict(X, **kwargs), dtype=int)]
