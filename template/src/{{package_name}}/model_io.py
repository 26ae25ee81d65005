"""Loading the saved scikit-learn pipeline safely: skops with an explicit list of trusted types.

Shared by training (which writes the file) and serving (which may read it); it imports neither.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The wrapper training puts around a classifier whose probabilities need calibrating
# (training/calibration.py): fitted slopes and step functions, plain data, no code.
CALIBRATION_TYPES = ("sklearn.calibration._CalibratedClassifier", "sklearn.calibration._SigmoidCalibration")


def trusted_types() -> list[str]:
    """The types our pipelines contain that skops does not trust by default, and nothing more.

    For each model family and task, `skops.io.get_untrusted_types` on a fitted pipeline lists only
    `numpy.dtype` and the types that family declares (plain data holders, no code). Saving refuses
    any other type (training/export.py), so a new one is reviewed, and declared in its family's
    `trusted_types`, before it is trusted. Reading the registry imports no scikit-learn.
    """
    from .families import trusted_types as declared

    return ["numpy.dtype", *CALIBRATION_TYPES, *declared()]


def load_skops(path: Path) -> Any:
    """Load a pipeline saved by save_skops, trusting only trusted_types()."""
    import skops.io as sio

    return sio.load(path, trusted=trusted_types())
