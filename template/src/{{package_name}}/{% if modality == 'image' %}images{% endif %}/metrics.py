"""The metrics every image model is reported with (train, evaluate and the baseline alike)."""

from __future__ import annotations

import numpy as np


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """accuracy and f1_macro of predicted class indices."""
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro")),
    }
