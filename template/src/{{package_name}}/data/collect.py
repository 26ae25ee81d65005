"""The collect stage: bring the raw data into `data/raw/` and record where it came from.

The source is params.yaml `data.source`, one of the modules in `data/sources/` (snapshot,
sklearn, url, local, or one you add). Every source writes `data/raw/<name>.csv`; this stage reads
it back and writes `data/raw/metadata.json`. Both are written into a staging folder that replaces
`data/raw/` only once the file has been checked and read back, so a failed download, a checksum
mismatch or an unreadable file leaves `data/raw/` as it was.

Both engines run this stage; the Spark engine only supplies its own `read_back` for files too
large to read on the driver.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import DataParams, Paths
from . import sources
from .io import atomic_dir, read_csv, write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadBack:
    """What reading the fetched file back found: how it is written and its shape."""

    encoding: str
    delimiter: str
    rows: int
    columns: list[str]


ReadBackFunction = Callable[[Path, str | None, str], ReadBack]


def read_back(path: Path, encoding: str | None, name: str) -> ReadBack:
    """Read the whole file as the clean stage will, so a bad file fails now, not in the next stage."""
    frame = read_csv(path, encoding, name=name)
    return ReadBack(frame.attrs["encoding"], frame.attrs["delimiter"], len(frame), list(frame.columns))


def raw_metadata(kind: str, origin: sources.Origin, csv: Path, file: str, shape: ReadBack) -> dict[str, Any]:
    """The content of data/raw/metadata.json: where the file came from, its bytes and its shape.

    `csv` is the file as written (in the staging folder), `file` where it will be, from the root.
    """
    return {
        "source": kind,
        **origin.fields(),
        "file": file,
        "bytes": csv.stat().st_size,
        "encoding": shape.encoding,
        "delimiter": shape.delimiter,
        "rows": shape.rows,
        "columns": len(shape.columns),
        "column_names": shape.columns,
        "collected_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def collect(params: DataParams, paths: Paths, reader: ReadBackFunction = read_back) -> dict[str, Any]:
    """Run the collect stage: write the raw CSV and its metadata.json; return the metadata.

    `reader` reads the fetched file back (the pandas reader unless an engine brings its own).
    """
    source = sources.get(params.source)(params, paths.root)
    final_csv = paths.raw_csv(params.name)
    with atomic_dir(paths.raw) as staging:
        target = staging / final_csv.name
        origin = source.fetch(target)
        shape = reader(target, params.encoding, origin.location)
        file = final_csv.relative_to(paths.root).as_posix()
        metadata = raw_metadata(params.source, origin, target, file, shape)
        write_json(staging / paths.raw_metadata.name, metadata)
    log.info(
        "collected %d rows x %d columns from %s", metadata["rows"], metadata["columns"], metadata["location"]
    )
    return metadata
