"""Calibrating a classifier whose probabilities say more than it knows, and measuring how well it is.

A forest grown to pure leaves, for one, answers 100% for rows it has never seen. Its labels can be
good while its log loss is worse than guessing the class priors. When the held-out folds show that
(or an expected calibration error above `train.calibration.max_ece`), and calibrating lowers the
held-out log loss, the chosen pipeline's model is wrapped in scikit-learn's CalibratedClassifierCV,
fitted with cross-validation on the training split only: the test split stays unseen, so its
before and after figures are honest. The wrapper
is part of the exported pipeline, so the ONNX export, the API and the demo page serve the
calibrated probabilities with no change of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline

from ..config import CalibrationParams
from .metrics import ECE_BINS, confidence_bins

# scikit-learn's advice: isotonic regression overfits with fewer calibration rows than about this.
ISOTONIC_MIN_ROWS = 1000


@dataclass(frozen=True)
class Verdict:
    """Whether the chosen classifier needs calibrating, and the held-out numbers that say so."""

    needed: bool
    reason: str


def verdict(candidate: dict[str, float], guessing: dict[str, float], params: CalibrationParams) -> Verdict:
    """Calibrate when held-out log loss is worse than guessing's, or held-out ECE is above max_ece.

    Both numbers are the cross-validation means on the training split (`cv_log_loss_mean`,
    `cv_ece_mean`), so the decision never looks at the test split.
    """
    log_loss, guess = candidate.get("cv_log_loss_mean"), guessing.get("cv_log_loss_mean")
    ece = candidate.get("cv_ece_mean")
    if log_loss is None or ece is None or guess is None:
        return Verdict(False, "no held-out probabilities to judge (the model has no predict_proba)")
    if not params.enabled:
        return Verdict(
            False,
            f"switched off (train.calibration.enabled: false) with a held-out log loss of {log_loss:.4f} "
            f"(guessing: {guess:.4f}) and an ECE of {ece:.4f}",
        )
    if log_loss > guess:
        return Verdict(
            True,
            f"its held-out log loss of {log_loss:.4f} is worse than guessing the class priors ({guess:.4f})",
        )
    if ece > params.max_ece:
        return Verdict(
            True, f"its held-out ECE of {ece:.4f} is above train.calibration.max_ece ({params.max_ece})"
        )
    return Verdict(
        False,
        f"its held-out log loss of {log_loss:.4f} beats guessing ({guess:.4f}) and its ECE of {ece:.4f} "
        f"is within train.calibration.max_ece ({params.max_ece})",
    )


def method_for(params: CalibrationParams, rows: int) -> str:
    """The calibration method: as set, or for `auto` isotonic on enough rows and sigmoid below."""
    if params.method != "auto":
        return params.method
    return "isotonic" if rows >= ISOTONIC_MIN_ROWS else "sigmoid"


def calibrate(pipeline: Pipeline, x: pd.DataFrame, y: pd.Series, method: str, cv: int) -> Pipeline:
    """A new pipeline: the same preprocessing, the model wrapped in CalibratedClassifierCV, fitted.

    `ensemble=False`: the calibrator is fitted on out-of-fold predictions of `cv` and the model
    itself on the whole training split, so the served model is the same one, with its
    probabilities remapped (one model in the ONNX graph, not one per fold). The preprocessing is
    fitted once on the whole split, as in the uncalibrated pipeline.
    """
    calibrated = Pipeline(
        [
            ("preprocess", clone(pipeline.named_steps["preprocess"])),
            (
                "model",
                CalibratedClassifierCV(
                    clone(pipeline.named_steps["model"]), method=method, cv=cv, ensemble=False
                ),
            ),
        ]
    )
    return calibrated.fit(x, y)


def held_out_log_loss(pipeline: Pipeline, x: pd.DataFrame, y: pd.Series, method: str, splitter: Any) -> float:
    """Mean log loss of the calibrated pipeline over the training split's folds.

    Each fold's calibrator is fitted on that fold's training rows only (cross-validation nested
    in cross-validation), so the figure compares fairly with the uncalibrated `cv_log_loss_mean`:
    calibrating a model that was not overconfident, or on too few rows, can make it worse, and
    then the uncalibrated model is served.
    """
    from sklearn.model_selection import cross_val_score

    from .metrics import SCORERS, from_scorer

    calibrated = Pipeline(
        [
            ("preprocess", clone(pipeline.named_steps["preprocess"])),
            (
                "model",
                CalibratedClassifierCV(
                    clone(pipeline.named_steps["model"]),
                    method=method,
                    cv=splitter.get_n_splits(),
                    ensemble=False,
                ),
            ),
        ]
    )
    scores = cross_val_score(calibrated, x, y, cv=splitter, scoring=SCORERS["log_loss"])
    return float(np.mean(from_scorer("log_loss", scores)))


def uncalibrated(pipeline: Pipeline) -> Pipeline | None:
    """The fitted pipeline before calibration (same preprocessing, the inner model), or None.

    With `ensemble=False` the inner model was fitted on the whole training split, so this is
    exactly the candidate that training compared before it calibrated.
    """
    model = pipeline.named_steps["model"]
    if not isinstance(model, CalibratedClassifierCV):
        return None
    return Pipeline(
        [
            ("preprocess", pipeline.named_steps["preprocess"]),
            ("model", model.calibrated_classifiers_[0].estimator),
        ]
    )


def reliability_table(
    y_true: np.ndarray, proba: np.ndarray, classes: list[Any], bins: int = ECE_BINS
) -> pd.DataFrame:
    """Per confidence bin: the mean top-class probability, the share of rows right, and the rows.

    The points of a reliability diagram; on the diagonal, a model is right as often as it says.
    """
    confidence, correct, which = confidence_bins(y_true, proba, classes, bins)
    rows = [
        {
            "confidence": float(confidence[which == index].mean()),
            "accuracy": float(correct[which == index].mean()),
            "rows": int((which == index).sum()),
        }
        for index in np.unique(which)
    ]
    return pd.DataFrame(rows, columns=["confidence", "accuracy", "rows"])
