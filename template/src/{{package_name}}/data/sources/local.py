"""The `local` source: a CSV file kept in the project (gzip is unpacked), checked against data.sha256.

A project's own data lives in `data/external/`, versioned by DVC (see `data/external.py`), so a
clone gets it with `dvc pull`. A data.path outside the project (a project generated before
data/external/ existed) is imported there on each collect, with a message on how to switch.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .. import external
from . import Origin, Source, check_sha256, store

log = logging.getLogger(__name__)


class LocalSource(Source):
    """Copy the CSV at data.path (relative to the project folder, e.g. data/external/houses.csv)."""

    KIND = "local"

    def fetch(self, target: Path) -> Origin:
        source = self.local_file("CSV file")
        if not external.is_inside(source, self.root):
            source = self._import(source)
        digest, compression = store(source, target)
        check_sha256(digest, self.data.sha256, str(source))
        file = source.resolve().relative_to(self.root.resolve()).as_posix()
        imported = external.origin_of(source, self.root, digest)
        original = imported.original if imported else file
        return Origin(location=file, sha256=digest, path=original, compression=compression)

    def _import(self, source: Path) -> Path:
        """Copy a file from outside the project into data/external/, and say how to depend on the copy."""
        imported = external.import_file(source, self.root)
        log.warning(
            "data.path (%s) is outside the project, so a clone of it could not run the pipeline; "
            "copied it to %s, which DVC versions and `dvc push` shares. Set `path: %s` under data: "
            "in params.yaml, run `uv run dvc repro`, then commit params.yaml, dvc.lock, %s and %s.",
            source,
            imported.file,
            imported.file,
            external.DVC_FILE,
            external.GITIGNORE,
        )
        return self.root / imported.file
