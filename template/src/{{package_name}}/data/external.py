"""Your own data files, kept inside the project so that a clone has them: `data/external/`.

A CSV from elsewhere on this machine (the one named when the project was generated, or one
imported later with `uv run <package> import-data PATH`) is copied into `data/external/`. DVC
tracks that folder (`data/external.dvc`), so `dvc push` stores it with the pipeline's outputs and
`dvc pull` brings it to a teammate's clone, and the collect stage depends on the copy, never on a
path that exists only on the author's machine. Where each file came from (its original path and
sha256) is kept beside it in `data/external/origin.json`, versioned by DVC with the file and
copied into `data/raw/metadata.json` by collect; no committed file names a path on this machine.

This module imports only the standard library: the copy-only task that imports the CSV when the
project is generated loads it with Copier's own Python, before the project is installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

EXTERNAL_DIR = "data/external"
ORIGIN_FILE = "origin.json"
DVC_FILE = "data/external.dvc"
GITIGNORE = "data/.gitignore"
# A DVC file with a path and no hash yet: the next `dvc repro` (or `dvc commit`) hashes the folder,
# caches it and writes the hash here, as `dvc add` would. Writing it needs no DVC installed.
DVC_FILE_TEXT = (
    "# Your own data, copied into the project (see data/external/origin.json for where it came from).\n"
    "# `uv run dvc repro` records each new version here; `uv run dvc push` stores it on the remote.\n"
    "outs:\n- path: external\n"
)
IGNORE_LINE = "/external"


@dataclass(frozen=True)
class Imported:
    """A file copied into data/external/: where it is now, where it came from, and its bytes."""

    file: str  # from the project root, POSIX style, e.g. data/external/houses.csv
    original: str  # the absolute path it was copied from (provenance, never a dependency)
    sha256: str
    imported_at: str


def file_name(path: str) -> str:
    """The last part of a path typed on any OS ('C:\\data\\x.csv' and '/data/x.csv' give 'x.csv')."""
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1]


def is_inside(path: Path, root: Path) -> bool:
    """Whether `path` lies in the project folder `root` (symbolic links resolved)."""
    return path.resolve().is_relative_to(root.resolve())


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def import_file(source: Path, root: Path, name: str | None = None) -> Imported:
    """Copy `source` to data/external/`name` (default: its own name) and record where it came from.

    Idempotent: a copy with the same bytes is left as it is. Also makes sure DVC tracks the folder
    (data/external.dvc) and git ignores it (data/.gitignore), so the file travels by `dvc push`.
    """
    source = source.expanduser()
    source = source if source.is_absolute() else root / source
    if not source.is_file():
        raise FileNotFoundError(
            f"{source} does not exist; pass the path of your CSV file (absolute, or relative to "
            f"the project folder {root})."
        )
    folder = root / EXTERNAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (name or source.name)
    if target.name == ORIGIN_FILE:
        raise ValueError(f"{ORIGIN_FILE} is where data/external/ records provenance; rename your file.")
    digest = sha256_of(source)
    if source.resolve() != target.resolve() and not (target.is_file() and sha256_of(target) == digest):
        _copy_atomically(source, target)
    record = Imported(
        file=target.relative_to(root).as_posix(),
        original=str(source.resolve()),
        sha256=digest,
        imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    origins = read_origins(root)
    known = origins.get(target.name, {})
    if known.get("original") != record.original or known.get("sha256") != digest:
        origins[target.name] = {key: value for key, value in asdict(record).items() if key != "file"}
        _write_text(folder / ORIGIN_FILE, json.dumps(dict(sorted(origins.items())), indent=2) + "\n")
    track(root)
    return record


def read_origins(root: Path) -> dict[str, dict[str, str]]:
    """data/external/origin.json: for each imported file name, its original path and sha256."""
    path = root / EXTERNAL_DIR / ORIGIN_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def origin_of(path: Path, root: Path, sha256: str) -> Imported | None:
    """The import record of the file at `path`, if it was imported and still has those bytes.

    A file replaced by hand since its import has no record: its recorded origin would be wrong.
    """
    if path.resolve().parent != (root / EXTERNAL_DIR).resolve():
        return None
    entry = read_origins(root).get(path.name)
    if not entry or entry.get("sha256") != sha256:
        return None
    file = (root / EXTERNAL_DIR / path.name).relative_to(root).as_posix()
    return Imported(file=file, original=entry["original"], sha256=sha256, imported_at=entry["imported_at"])


def track(root: Path) -> None:
    """Write data/external.dvc and the data/.gitignore line for the folder when they are missing."""
    dvc_file = root / DVC_FILE
    if not dvc_file.exists():
        _write_text(dvc_file, DVC_FILE_TEXT)
    gitignore = root / GITIGNORE
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    if IGNORE_LINE not in lines:
        _write_text(gitignore, "\n".join([*lines, IGNORE_LINE]) + "\n")


def _copy_atomically(source: Path, target: Path) -> None:
    """Copy through a temporary file in the target's folder: a reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
