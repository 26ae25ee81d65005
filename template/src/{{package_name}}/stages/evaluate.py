"""evaluate: score the model on the held-out split into reports/."""

from __future__ import annotations

from typing import Any

from ..config import Params, Paths


def run(params: Params, paths: Paths, *, track: bool = True) -> dict[str, Any]:
    """Score the model on the test split; write metrics, plot data and figures."""
    from ..training.evaluate import run_evaluate

    return run_evaluate(params, paths, track=track)
