"""The `snapshot` source: a CSV that ships inside this package (the penguins data).

The copy in `data/snapshots/` makes the first run work offline; data.url still names the
canonical upstream, and data.sha256 pins the bytes.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from . import CollectError, Origin, Source, check_sha256, store

DATA_PACKAGE = __name__.rsplit(".", 2)[0]  # <package>.data, which holds the snapshots/ folder


class SnapshotSource(Source):
    """Copy `data/snapshots/<data.name>.csv`, checked against data.sha256."""

    KIND = "snapshot"

    def fetch(self, target: Path) -> Origin:
        name = self.data.name
        snapshot = resources.files(DATA_PACKAGE).joinpath("snapshots", f"{name}.csv")
        with resources.as_file(snapshot) as source:
            if not source.is_file():
                raise CollectError(
                    f"no snapshot named {name}.csv ships with this package; set data.source "
                    "in params.yaml to 'url' or 'local' and point it at your file."
                )
            digest, compression = store(source, target)
        check_sha256(digest, self.data.sha256, f"the {name} snapshot")
        return Origin(
            location=self.data.url or f"package:{name}.csv",
            sha256=digest,
            url=self.data.url,
            path=f"src/{DATA_PACKAGE.replace('.', '/')}/snapshots/{name}.csv",
            compression=compression,
        )
