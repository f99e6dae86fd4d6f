"""A tabular MLP trained with torch, behind scikit-learn's estimator API.

It sits in the same Pipeline as every other algorithm (imputation, one-hot, scaling in
front), so CV, tuning, calibration and the registry treat it like any sklearn model.

Training uses torch on CPU: seeded, Adam, early stopping on a seeded validation split
(the best epoch's weights are kept), optional balanced class weights. After `fit` the
weights are kept as numpy arrays and prediction is a numpy forward pass (Linear + ReLU;
dropout is the identity at inference), so:
- the fitted estimator holds only numpy arrays and plain values, which skops serialises
  safely (no pickle, no torch objects) — MLflow logs and loads it like any sklearn model;
- serving needs no torch, and predictions after a registry round-trip are bit-identical.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin


class _TorchMLP(BaseEstimator):
    def __init__(
        self,
        hidden_units: int = 64,
        layers: int = 2,
        dropout: float = 0.1,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 256,
        max_epochs: int = 40,
        patience: int = 5,
        validation_fraction: float = 0.1,
        class_weight: str | None = None,
        random_state: int = 0,
    ) -> None:
        self.hidden_units = hidden_units
        self.layers = layers
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.random_state = random_state

    # --- subclasses -----------------------------------------------------------------
    def _targets(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        raise NotImplementedError

    def _loss(self, y_train: np.ndarray) -> Any:
        raise NotImplementedError

    # --- training -------------------------------------------------------------------
    def _fit(self, X: Any, y: Any) -> _TorchMLP:
        import torch
        from torch import nn

        X = np.asarray(X, dtype=np.float32)
        targets, outputs = self._targets(np.asarray(y))
        self.n_features_in_ = X.shape[1]
        rng = np.random.default_rng(self.random_state)
        torch.manual_seed(self.random_state)

        order = rng.permutation(len(X))
        n_val = int(len(X) * self.validation_fraction) if len(X) >= 50 else 0
        val_idx, train_idx = order[:n_val], order[n_val:]

        blocks: list[nn.Module] = []
        width = X.shape[1]
        for _ in range(self.layers):
            blocks += [nn.Linear(width, self.hidden_units), nn.ReLU(), nn.Dropout(self.dropout)]
            width = self.hidden_units
        blocks.append(nn.Linear(width, outputs))
        net = nn.Sequential(*blocks)
        optimizer = torch.optim.Adam(
            net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        loss_fn = self._loss(targets[train_idx])
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(targets)

        best_loss, best_state, stale, epochs = np.inf, None, 0, 0
        for epoch in range(self.max_epochs):
            net.train()
            shuffled = train_idx[rng.permutation(len(train_idx))]
            for start in range(0, len(shuffled), self.batch_size):
                batch = torch.from_numpy(shuffled[start : start + self.batch_size])
                optimizer.zero_grad()
                loss = loss_fn(net(X_t[batch]), y_t[batch])
                loss.backward()
                optimizer.step()
            epochs = epoch + 1
            if not n_val:
                continue
            net.eval()
            with torch.no_grad():
                val_loss = float(loss_fn(net(X_t[val_idx]), y_t[val_idx]))
            if val_loss < best_loss - 1e-6:
                best_loss, stale = val_loss, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                stale += 1
                if stale >= self.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        linear = [m for m in net if isinstance(m, nn.Linear)]
        # numpy copies: the fitted estimator holds no torch objects (safe to serialise).
        self.coefs_ = [m.weight.detach().numpy().T.astype(np.float64).copy() for m in linear]
        self.intercepts_ = [m.bias.detach().numpy().astype(np.float64).copy() for m in linear]
        self.n_epochs_ = epochs
        self.best_validation_loss_ = float(best_loss) if n_val else None
        return self

    def _forward(self, X: Any) -> np.ndarray:
        out = np.asarray(X, dtype=np.float64)
        for i, (coef, bias) in enumerate(zip(self.coefs_, self.intercepts_, strict=True)):
            out = out @ coef + bias
            if i < len(self.coefs_) - 1:
                out = np.maximum(out, 0.0)
        return out


class TorchMLPClassifier(ClassifierMixin, _TorchMLP):
    """MLP classifier; `class_weight="balanced"` weights the loss by inverse class frequency."""

    def _targets(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        self.classes_ = np.unique(y)
        return np.searchsorted(self.classes_, y).astype(np.int64), len(self.classes_)

    def _loss(self, y_train: np.ndarray) -> Any:
        import torch
        from torch import nn

        weight = None
        if self.class_weight == "balanced":
            counts = np.bincount(y_train, minlength=len(self.classes_)).astype(np.float64)
            balanced = len(y_train) / (len(self.classes_) * np.maximum(counts, 1))
            weight = torch.tensor(balanced, dtype=torch.float32)
        return nn.CrossEntropyLoss(weight=weight)

    def fit(self, X: Any, y: Any) -> TorchMLPClassifier:
        return self._fit(X, y)

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = self._forward(X)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class TorchMLPRegressor(RegressorMixin, _TorchMLP):
    """MLP regressor on a standardised target (MSE loss); predictions in target units."""

    def _targets(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        y = y.astype(np.float64)
        self.y_mean_, self.y_scale_ = float(y.mean()), float(y.std() or 1.0)
        return ((y - self.y_mean_) / self.y_scale_).astype(np.float32).reshape(-1, 1), 1

    def _loss(self, y_train: np.ndarray) -> Any:
        from torch import nn

        return nn.MSELoss()

    def fit(self, X: Any, y: Any) -> TorchMLPRegressor:
        return self._fit(X, y)

    def predict(self, X: Any) -> np.ndarray:
        return self._forward(X)[:, 0] * self.y_scale_ + self.y_mean_


SEARCH_SPACE: dict[str, dict[str, Any]] = {
    "hidden_units": {"type": "int", "low": 32, "high": 256, "log": True, "default": 64},
    "layers": {"type": "int", "low": 1, "high": 3, "default": 2},
    "dropout": {"type": "float", "low": 0.0, "high": 0.3, "default": 0.1},
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True, "default": 1e-3},
    "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-3, "log": True, "default": 1e-5},
}
