"""The `local` source: a CSV file on this machine (gzip is unpacked), checked against data.sha256."""

from __future__ import annotations

from pathlib import Path

from . import Origin, Source, check_sha256, store


class LocalSource(Source):
    """Copy the CSV at data.path (absolute, or relative to the project folder)."""

    KIND = "local"

    def fetch(self, target: Path) -> Origin:
        source = self.local_file("CSV file")
        digest, compression = store(source, target)
        check_sha256(digest, self.data.sha256, str(source))
        return Origin(location=str(source), sha256=digest, path=str(source), compression=compression)
