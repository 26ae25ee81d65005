"""collect: bring the raw images into data/raw/images/<class>/ and record where they came from."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from ..data.io import atomic_dir, write_json
from .params import ImageParams, ImagePaths
from .sources import SOURCES

log = logging.getLogger(__name__)


def collect(params: ImageParams, paths: ImagePaths) -> dict[str, Any]:
    """Run the data.source into a staging folder that replaces data/raw/ only when it succeeds."""
    source = SOURCES[params.data.source]
    with atomic_dir(paths.base.raw) as staging:
        found = source(params.data, staging / "images", paths.root)
        classes: dict[str, int] = found["classes"]
        metadata = {
            "name": params.data.name,
            "source": params.data.source,
            **{key: value for key, value in found.items() if key != "classes"},
            "files": sum(classes.values()),
            "classes": classes,
            "collected_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        write_json(staging / paths.raw_metadata.name, metadata)
    log.info("collected %d files in %d classes from %s", metadata["files"], len(classes), params.data.source)
    return metadata
