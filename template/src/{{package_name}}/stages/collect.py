"""collect: bring the raw data into data/raw/ with the pandas or the Spark engine."""

from __future__ import annotations

from typing import Any

from ..config import Params, Paths
from . import engines


def run(params: Params, paths: Paths) -> dict[str, Any]:
    """Bring the raw data into data/raw/ and record its source and sha256."""
    if params.engine == "spark":
        summary: dict[str, Any] = engines.spark("collect").run_collect(params, paths)
        return summary
    from ..data.collect import collect

    return collect(params.data, paths)
