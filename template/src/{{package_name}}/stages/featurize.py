"""featurize: split the clean table into data/processed/ with the pandas or the Spark engine."""

from __future__ import annotations

from typing import Any

from ..config import Params, Paths
from . import engines


def run(params: Params, paths: Paths) -> dict[str, Any]:
    """Split the clean table (seeded) and write the feature spec."""
    if params.engine == "spark":
        summary: dict[str, Any] = engines.spark("featurize").run_featurize(params, paths)
        return summary
    from ..features import run_featurize

    return run_featurize(params.split, paths)
