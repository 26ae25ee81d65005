"""Loading the saved scikit-learn pipeline safely: skops with an explicit list of trusted types.

Shared by training (which writes the file) and serving (which may read it); it imports neither.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Types skops may not trust by default that our pipelines legitimately contain.
TRUSTED_TYPES = [
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
]


def load_skops(path: Path) -> Any:
    """Load a pipeline saved by save_skops, trusting only TRUSTED_TYPES."""
    import skops.io as sio

    return sio.load(path, trusted=TRUSTED_TYPES)
