"""train: fit the baseline and the chosen model family into models/."""

from __future__ import annotations

from typing import Any

from ..config import Params, Paths


def run(params: Params, paths: Paths, *, track: bool = True) -> dict[str, Any]:
    """Fit the baseline and the chosen model, log them to MLflow and export the model."""
    from ..training.train import run_train

    return run_train(params, paths, track=track).model_dump(mode="json")
