"""Metrics for both tasks, the direction that counts as better, and their scikit-learn scorers."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from ..config import ConfigError

GREATER_IS_BETTER = {
    "accuracy": True,
    "balanced_accuracy": True,
    "f1_macro": True,
    "roc_auc": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}
TASK_METRICS = {
    "classification": ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"],
    "regression": ["rmse", "mae", "r2"],
}
# scikit-learn scorer names, for cross-validation, the search and permutation importance. The
# "neg_" scorers return the metric negated so that greater is always better for scikit-learn.
SCORERS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "f1_macro": "f1_macro",
    "roc_auc": "roc_auc_ovr",
    "log_loss": "neg_log_loss",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
}
# What cross-validation always reports; the primary metric is added when it is not among them.
CV_METRICS = {
    "classification": ["accuracy", "balanced_accuracy", "f1_macro"],
    "regression": ["rmse", "mae", "r2"],
}


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None, classes: list[str]
) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro F1, and ROC AUC / log loss when probabilities exist."""
    result = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y_true, y_pred)),
        "f1_macro": float(skm.f1_score(y_true, y_pred, average="macro")),
    }
    if proba is not None and len(np.unique(y_true)) > 1:
        if len(classes) == 2:
            result["roc_auc"] = float(skm.roc_auc_score(y_true == classes[1], proba[:, 1]))
        else:
            result["roc_auc"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes))
        result["log_loss"] = float(skm.log_loss(y_true, np.clip(proba, 1e-15, 1), labels=classes))
    return result


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE, MAE and R²."""
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "r2": float(skm.r2_score(y_true, y_pred)),
    }


def check_metric(name: str, task: str) -> None:
    """Raise ConfigError naming the valid choices when `name` is no metric for `task`."""
    valid = TASK_METRICS[task]
    if name not in valid:
        raise ConfigError(
            f"train.primary_metric '{name}' is not a {task} metric; use one of {', '.join(valid)}."
        )


def cv_metric_names(task: str, primary: str) -> list[str]:
    """The metrics cross-validation reports for `task`: the usual ones plus the primary metric."""
    names = list(CV_METRICS[task])
    return names if primary in names else [*names, primary]


def from_scorer(metric: str, value: float) -> float:
    """Undo the sign of scikit-learn's "neg_" scorers so values read like the metric itself."""
    return -value if SCORERS[metric].startswith("neg_") else value


def is_better(new: float, old: float, metric: str) -> bool:
    """Strictly better on `metric` (a tie is not better)."""
    return new > old if GREATER_IS_BETTER[metric] else new < old
