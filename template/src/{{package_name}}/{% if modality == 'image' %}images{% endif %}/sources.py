"""Where the raw images come from, one function per params.yaml `data.source`, registered in SOURCES.

Every source writes the same layout into a staging folder: one subfolder per class, the class's
files inside (copied as they are; clean decides what is usable). Adding a source is one function
and its name in SOURCES.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..data.io import DataError
from .params import ImageDataParams

log = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


def _class_name(name: str) -> str:
    """A folder name as a class label: kept as it is, but it must be usable as a path and in JSON."""
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        raise DataError(f"{name!r} cannot be a class name; rename the folder (no leading dot or slashes)")
    return name


def copy_class_folders(source: Path, target: Path) -> dict[str, int]:
    """Copy every file under each class folder of `source` into `target/<class>/`; return the counts.

    Files in nested folders keep their relative path in the name (a/b.png becomes a__b.png), hidden
    files and folders are skipped, and every other file is copied as it is: clean decides what is an
    image. A `source` with one folder and no files (an archive that wraps everything in a folder) is
    looked into.
    """
    entries = [p for p in source.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir() and not any(p.is_file() for p in entries[0].iterdir()):
        return copy_class_folders(entries[0], target)
    folders = sorted(p for p in entries if p.is_dir())
    if not folders:
        raise DataError(
            f"{source} has no class folders; put each class's images in a folder named after the class, "
            "e.g. cats/001.png and dogs/001.png"
        )
    loose = [p.name for p in entries if p.is_file()]
    if loose:
        log.warning(
            "ignored %d file(s) outside the class folders of %s, e.g. %s", len(loose), source, loose[0]
        )
    counts: dict[str, int] = {}
    for folder in folders:
        label = _class_name(folder.name)
        files = sorted(
            p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts)
        )
        (target / label).mkdir(parents=True, exist_ok=True)
        for file in files:
            shutil.copyfile(file, target / label / "__".join(file.relative_to(folder).parts))
        counts[label] = len(files)
    return counts


def digits(data: ImageDataParams, target: Path, root: Path) -> dict[str, Any]:
    """scikit-learn's 1,797 handwritten digits (8x8, 17 grey levels) as PNG files, one folder per digit."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    bunch = load_digits()
    counts: dict[str, int] = {}
    for index, (pixels, label) in enumerate(zip(bunch.images, bunch.target, strict=True)):
        folder = target / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        grey = np.rint(pixels * (255 / 16)).astype(np.uint8)
        Image.fromarray(grey, mode="L").save(folder / f"{index:04d}.png", optimize=False)
        counts[str(label)] = counts.get(str(label), 0) + 1
    return {"classes": counts}


def _safe_members(archive: zipfile.ZipFile) -> list[str]:
    """The zip's member names, refusing any that would land outside the folder it is unpacked into."""
    names = archive.namelist()
    for name in names:
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts:
            raise DataError(f"the archive holds an unsafe path {name!r}; it is refused, nothing was unpacked")
    return names


def unpack(archive: Path, target: Path) -> None:
    """Unpack a .zip or .tar(.gz) into `target`, refusing paths outside it and links."""
    name = archive.name.lower()
    try:
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as bundle:
                bundle.extractall(target, members=_safe_members(bundle))  # noqa: S202 - names checked above
        else:
            with tarfile.open(archive) as bundle:
                bundle.extractall(target, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError) as exc:
        raise DataError(
            f"{archive.name} is not a readable zip or tar archive ({exc}); check data.url"
        ) from exc


def url(data: ImageDataParams, target: Path, root: Path) -> dict[str, Any]:
    """A zip or tar of class folders over HTTP(S): timeout, retries, sha256 and an atomic write."""
    from ..data.download import download

    if data.url is None:
        raise DataError("data.source is 'url' but data.url is empty; set it in params.yaml")
    file_name = data.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "images.zip"
    if not file_name.lower().endswith(ARCHIVE_SUFFIXES):
        raise DataError(
            f"data.url must name a {', '.join(ARCHIVE_SUFFIXES)} file, not {file_name!r}; point it at the archive"
        )
    with tempfile.TemporaryDirectory(prefix="images-") as scratch:
        archive = Path(scratch) / file_name
        sha256 = download(
            data.url,
            archive,
            expected_sha256=data.sha256.lower() if data.sha256 else None,
            timeout=data.timeout_seconds,
            retries=data.retries,
        )
        unpacked = Path(scratch) / "unpacked"
        unpack(archive, unpacked)
        counts = copy_class_folders(unpacked, target)
    return {"classes": counts, "url": data.url, "sha256": sha256}


def local(data: ImageDataParams, target: Path, root: Path) -> dict[str, Any]:
    """Your folder of class folders (data/external/images/, versioned by DVC), copied as it is."""
    if data.path is None:
        raise DataError("data.source is 'local' but data.path is empty; set it in params.yaml")
    folder = (root / data.path).resolve()
    if not folder.is_dir():
        raise DataError(
            f"data.path {data.path!r} is not a folder; import your images with "
            "`uv run <package> import-images FOLDER`, or fix data.path in params.yaml"
        )
    return {"classes": copy_class_folders(folder, target), "path": data.path}


Source = Callable[[ImageDataParams, Path, Path], dict[str, Any]]
SOURCES: dict[str, Source] = {"digits": digits, "url": url, "local": local}
