"""The `local` source: a CSV file kept in the project (gzip is unpacked), checked against data.sha256.

A project's own data lives in `data/external/`, versioned by DVC (see `data/external.py`), so a
clone gets it with `dvc pull`. A data.path outside the project (a project generated before
data/external/ existed, or a hand-edited params.yaml) is still read where it is, as before, with a
warning that says how to bring it into the project: reading never copies or writes anything, so a
file that turns out to be unusable leaves the project exactly as it was.
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
        digest, compression = store(source, target)
        check_sha256(digest, self.data.sha256, str(source))
        if not external.is_inside(source, self.root):
            log.warning(
                "data.path (%s) is outside the project, so a clone of it cannot run the pipeline; "
                "`uv run %s import-data %s` copies it into %s, which DVC versions and "
                "`dvc push` shares (the command says what to set in params.yaml).",
                source,
                __package__.split(".")[0],
                source,
                external.EXTERNAL_DIR,
            )
            return Origin(location=str(source), sha256=digest, path=str(source), compression=compression)
        file = source.resolve().relative_to(self.root.resolve()).as_posix()
        imported = external.origin_of(source, self.root, digest)
        original = imported.original if imported else file
        return Origin(location=file, sha256=digest, path=original, compression=compression)
