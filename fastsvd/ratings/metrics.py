"""Errors of rating predictions."""

from __future__ import annotations

import numpy as np


def _pair(y_true, y_pred):
    y_true = np.asarray(y_true, dtype=np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if y_true.size != y_pred.size:
        raise ValueError(f"y_true and y_pred must have equal lengths, got {y_true.size} and "
                         f"{y_pred.size}.")
    if y_true.size == 0:
        raise ValueError("y_true and y_pred are empty; an error needs at least one rating.")
    for name, array in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.isfinite(array).all():
            raise ValueError(f"{name} contains NaN or infinity; an error over such values is "
                             "undefined.")
    return y_true, y_pred


def rmse(y_true, y_pred) -> float:
    """Root mean squared error ``sqrt(mean((y_true - y_pred) ** 2))``, in float64."""
    y_true, y_pred = _pair(y_true, y_pred)
    diff = y_true - y_pred
    return float(np.sqrt(np.dot(diff, diff) / diff.size))


def mae(y_true, y_pred) -> float:
    """Mean absolute error ``mean(|y_true - y_pred|)``, in float64."""
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))
