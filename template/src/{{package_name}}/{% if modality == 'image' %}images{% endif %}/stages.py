"""The image pipeline's stages, in the order dvc.yaml runs them; the CLI makes one command per name.

Each entry is `run(params, paths)` (the train stage also takes `track`); its domain module is
imported when it runs, so building the CLI never pays for torch, scikit-learn or MLflow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .params import ImageParams, ImagePaths


def collect(params: ImageParams, paths: ImagePaths) -> Any:
    """Bring the raw images into data/raw/images/<class>/ and record their source."""
    from .collect import collect as run

    return run(params, paths)


def clean(params: ImageParams, paths: ImagePaths) -> Any:
    """Quarantine the images that do not decode, are too small, duplicated, or in too small a class."""
    from .clean import run_clean

    return run_clean(params, paths)


def featurize(params: ImageParams, paths: ImagePaths) -> Any:
    """Split the clean images (seeded, stratified) and preprocess them into arrays."""
    from .featurize import run_featurize

    return run_featurize(params, paths)


def train(params: ImageParams, paths: ImagePaths, track: bool = True) -> Any:
    """Train the CNN and its baseline, export to ONNX (parity-checked) and register it in MLflow."""
    from .train import run_train

    return run_train(params, paths, track=track).model_dump(mode="json")


def evaluate(params: ImageParams, paths: ImagePaths) -> Any:
    """Score the ONNX model on the test split: metrics, confusion matrix, misclassified gallery."""
    from .evaluate import run_evaluate

    return run_evaluate(params, paths)


def report(params: ImageParams, paths: ImagePaths) -> Any:
    """Write reports/REPORT.md and MODEL_CARD.md and refresh the README's results block."""
    from .report import run_report

    return run_report(params, paths)


STAGES: dict[str, Callable[..., Any]] = {
    "collect": collect,
    "clean": clean,
    "featurize": featurize,
    "train": train,
    "evaluate": evaluate,
    "report": report,
}
TRACKED = frozenset({"train"})
