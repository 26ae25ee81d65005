"""clean: validate the raw rows into data/interim/ with the pandas or the Spark engine."""

from __future__ import annotations

from typing import Any

from ..config import Params, Paths
from . import engines


def run(params: Params, paths: Paths) -> dict[str, Any]:
    """Infer the schema, validate every row and quarantine the rows that fail."""
    if params.engine == "spark":
        summary: dict[str, Any] = engines.spark("clean").run_clean(params, paths)
        return summary
    from ..data.clean import run_clean

    return run_clean(params.data, params.clean, params.split, paths)
