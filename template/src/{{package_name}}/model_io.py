"""Loading the saved scikit-learn pipeline safely: skops with an explicit list of trusted types.

Shared by training (which writes the file) and serving (which may read it); it imports neither.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The types our pipelines contain that skops does not trust by default, and nothing more: for each
# model family and task, `skops.io.get_untrusted_types` on a fitted pipeline lists only these
# (plain data holders, no code). Saving refuses any other type (training/export.py), so a new one
# is reviewed before it is trusted.
TRUSTED_TYPES = [
    "numpy.dtype",
    "sklearn.tree._tree.Tree",  # random forests
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # HistGradientBoosting
]


def load_skops(path: Path) -> Any:
    """Load a pipeline saved by save_skops, trusting only TRUSTED_TYPES."""
    import skops.io as sio

    return sio.load(path, trusted=TRUSTED_TYPES)
