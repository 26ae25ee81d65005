"""Metrics for both tasks, the direction that counts as better, and their scikit-learn scorers."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

from ..config import ConfigError

GREATER_IS_BETTER = {
    "accuracy": True,
    "balanced_accuracy": True,
    "f1_macro": True,
    "roc_auc": True,
    "log_loss": False,
    "brier": False,
    "ece": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}
TASK_METRICS = {
    "classification": ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss", "brier"],
    "regression": ["rmse", "mae", "r2"],
}
ECE_BINS = 10  # equal-width confidence bins of the expected calibration error (the usual choice)


def confidence_bins(
    y_true: np.ndarray, proba: np.ndarray, classes: list[Any], bins: int = ECE_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: its confidence (the top class probability), whether that class is right, its bin."""
    confidence = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == np.asarray(y_true)
    which = np.clip(np.digitize(confidence, np.linspace(0, 1, bins + 1)[1:-1]), 0, bins - 1)
    return confidence, correct, which


def expected_calibration_error(
    y_true: np.ndarray, proba: np.ndarray, classes: list[Any], bins: int = ECE_BINS
) -> float:
    """How far the model's confidence is from its accuracy: the top-label ECE over equal-width bins.

    Each row's confidence is its highest class probability; per bin, |accuracy - mean confidence|
    is weighted by the bin's share of rows. 0 is perfectly calibrated; a model that says 100% and
    is right 80% of the time scores 0.2.
    """
    confidence, correct, which = confidence_bins(y_true, proba, classes, bins)
    gap = 0.0
    for index in np.unique(which):
        members = which == index
        gap += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(gap)


def _neg_ece(estimator: Any, x: Any, y: Any) -> float:
    """A scikit-learn scorer (greater is better, so negated) for the expected calibration error."""
    return -expected_calibration_error(np.asarray(y), estimator.predict_proba(x), list(estimator.classes_))


# scikit-learn scorers, for cross-validation, the search and permutation importance. A metric
# where lower is better is scored negated ("neg_"), so that greater is always better for scikit-learn.
SCORERS: dict[str, Any] = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "f1_macro": "f1_macro",
    "roc_auc": "roc_auc_ovr",
    "log_loss": "neg_log_loss",
    "brier": "neg_brier_score",
    "ece": _neg_ece,
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
}
# What cross-validation always reports; the primary metric is added when it is not among them.
# Held-out log loss and ECE decide whether a classifier is calibrated (training/calibration.py).
CV_METRICS = {
    "classification": ["accuracy", "balanced_accuracy", "f1_macro", "log_loss", "ece"],
    "regression": ["rmse", "mae", "r2"],
}


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None, classes: list[str]
) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro F1; ROC AUC, log loss, Brier score and ECE from probabilities."""
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
        result["brier"] = float(skm.brier_score_loss(y_true, proba, labels=classes))
    if proba is not None:
        result["ece"] = expected_calibration_error(y_true, proba, classes)
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
    """Undo the sign of the negated scorers (lower is better) so values read like the metric itself."""
    return value if GREATER_IS_BETTER[metric] else -value


def is_better(new: float, old: float, metric: str) -> bool:
    """Strictly better on `metric` (a tie is not better)."""
    return new > old if GREATER_IS_BETTER[metric] else new < old
