"""The collect stage with Spark: fetch the file as the pandas engine does, then check it with Spark.

The sources (snapshot, scikit-learn, URL, local file), checksums and gzip handling are the pandas
engine's own functions. Only the read-back that proves the file parses differs: a file larger than
IN_MEMORY_BYTES is counted and checked by Spark, without ever being loaded on the driver.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import DataParams, Params, Paths
from ..data.collect import collect_local, collect_sklearn, collect_snapshot, collect_url
from ..data.io import atomic_dir, detect_format, read_csv, write_json
from .session import get_spark
from .tables import read_raw

log = logging.getLogger(__name__)

# A file up to this size is read back by the pandas engine's reader: quicker than starting Spark.
IN_MEMORY_BYTES = 32 * 1024 * 1024


def fetch(data: DataParams, target: Path, root: Path) -> dict[str, Any]:
    """Bring the raw file to `target` from data.source; return where it came from and its sha256."""
    if data.source == "snapshot":
        return collect_snapshot(data, target)
    if data.source == "sklearn":
        return collect_sklearn(data, target)
    if data.source == "url":
        return collect_url(data, target)
    return collect_local(data, target, root)


def run_collect(params: Params, paths: Paths) -> dict[str, Any]:
    """The collect stage: write data/raw/<name>.csv and metadata.json (as the pandas engine does)."""
    data = params.data
    final_csv = paths.raw_csv(data.name)
    with atomic_dir(paths.raw) as staging:
        target = staging / final_csv.name
        record = fetch(data, target, paths.root)
        if target.stat().st_size <= IN_MEMORY_BYTES:
            frame = read_csv(target, data.encoding)  # fail now, not in the next stage
            rows, columns = len(frame), list(frame.columns)
        else:
            raw = read_raw(get_spark(params.spark, params.project), target, data.encoding)
            rows, columns = raw.rows, raw.columns
        fmt = detect_format(target, data.encoding)
        metadata = {
            "source": record.pop("source"),
            "location": record.pop("location"),
            **{key: value for key, value in record.items() if value is not None},
            "file": final_csv.relative_to(paths.root).as_posix(),
            "bytes": target.stat().st_size,
            "encoding": fmt.encoding,
            "delimiter": fmt.delimiter,
            "rows": rows,
            "columns": len(columns),
            "column_names": columns,
            "collected_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        write_json(staging / paths.raw_metadata.name, metadata)
    log.info("collected %d rows x %d columns from %s", rows, len(columns), metadata["location"])
    return metadata
