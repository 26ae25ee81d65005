"""The collect stage with Spark: the pandas engine's stage, with a Spark read-back for large files.

The sources (`data/sources/`), checksums, gzip handling and metadata.json are the pandas engine's
own (`data/collect.py`). Only the read-back that proves the file parses differs: a file larger
than IN_MEMORY_BYTES is counted and checked by Spark, without ever being loaded on the driver.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from ..config import Params, Paths
from ..data.collect import ReadBack, collect, read_back
from .session import get_spark
from .tables import read_raw

# A file up to this size is read back by the pandas engine's reader: quicker than starting Spark.
IN_MEMORY_BYTES = 32 * 1024 * 1024


def spark_read_back(params: Params, path: Path, encoding: str | None, name: str) -> ReadBack:
    """The pandas read-back for a small file; Spark's reader, on the executors, for a large one."""
    if path.stat().st_size <= IN_MEMORY_BYTES:
        return read_back(path, encoding, name)
    raw = read_raw(get_spark(params.spark, params.project), path, encoding)
    return ReadBack(raw.format.encoding, raw.format.delimiter, raw.rows, raw.columns)


def run_collect(params: Params, paths: Paths) -> dict[str, Any]:
    """The collect stage: write data/raw/<name>.csv and metadata.json (as the pandas engine does)."""
    return collect(params.data, paths, reader=partial(spark_read_back, params))
