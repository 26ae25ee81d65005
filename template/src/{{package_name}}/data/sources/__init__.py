"""Where the raw data comes from: one module per source, found by the registry below.

params.yaml `data.source` names a source by its KIND. Each module of this package defines one
subclass of `Source` whose KIND is the module's name, and writes the raw data to the path it is
given as CSV. The collect stage (`data/collect.py`, for both engines) asks `get(kind)` for the
class, so adding a source is one new module here; nothing else is edited.

Listing the sources reads the module names without importing them, so config validation stays
cheap; `get` imports only the module it is asked for, the first time it is asked.
"""

from __future__ import annotations

import gzip
import importlib
import pkgutil
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ...config import DataParams
from ..io import GZIP_MAGIC, DataError, sha256_file

CHUNK_BYTES = 1 << 16
SOURCES_FOLDER = f"src/{__name__.replace('.', '/')}/"


class CollectError(DataError):
    """The data could not be collected; the message says why and what to do."""


class NoOptions(BaseModel):
    """The settings of a source that takes none: any key under data.options is refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class Origin:
    """Where a raw file came from, as data/raw/metadata.json records it.

    `location` says it in words a reader can follow (a URL, a path, a dataset loader); `sha256` is
    of the bytes as they were fetched (a gzip download's own digest, before it is unpacked).
    """

    location: str
    sha256: str
    url: str | None = None
    path: str | None = None
    compression: str | None = None

    def fields(self) -> dict[str, str]:
        """The record without its empty fields, location first (the order metadata.json keeps)."""
        ordered = {
            "location": self.location,
            "url": self.url,
            "path": self.path,
            "sha256": self.sha256,
            "compression": self.compression,
        }
        return {key: value for key, value in ordered.items() if value is not None}


class Source(ABC):
    """One way to bring the raw data into `data/raw/`, selected by params.yaml `data.source`.

    A subclass sets KIND (its module's name) and implements `fetch`. A source that needs settings
    of its own declares them as a pydantic model in `Options`; params.yaml gives them under
    `data.options` (checked against `Options` when params.yaml is loaded), and the source reads
    them, typed, from `self.options`.
    """

    KIND: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, data: DataParams, root: Path) -> None:
        self.data = data
        self.root = root

    @cached_property
    def options(self) -> Any:
        """data.options as this source's `Options` (read only by a source that has options)."""
        return self.Options.model_validate(self.data.options)

    @abstractmethod
    def fetch(self, target: Path) -> Origin:
        """Write the raw data to `target` as CSV; say where it came from.

        Raise CollectError, with what to do, when the data cannot be had. `target` sits in a
        staging folder: on any failure the previous `data/raw/` stays as it was.
        """

    def local_file(self, what: str = "file") -> Path:
        """The file at data.path (absolute, or relative to the project folder); it must exist."""
        if not self.data.path:
            raise CollectError(f"data.source is '{self.KIND}' but data.path is empty; set it in params.yaml.")
        path = Path(self.data.path).expanduser()
        path = path if path.is_absolute() else self.root / path
        if not path.is_file():
            raise CollectError(
                f"{path} does not exist; set data.path in params.yaml to your {what} "
                "(an absolute path, or a path relative to the project folder)."
            )
        return path

    @classmethod
    def check_options(cls, options: dict[str, Any]) -> None:
        """Raise ValueError, naming each key at fault, when `options` do not fit `Options`."""
        try:
            cls.Options.model_validate(options)
        except ValidationError as exc:
            problems = "; ".join(
                f"data.options.{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()
            )
            known = ", ".join(cls.Options.model_fields) or "none"
            raise ValueError(
                f"data.source '{cls.KIND}' cannot use these options ({problems}); its options are: {known}"
            ) from None


def kinds() -> list[str]:
    """The known sources, sorted: the modules of this package (read from the folder, not imported)."""
    return sorted(module.name for module in pkgutil.iter_modules(__path__) if not module.name.startswith("_"))


def get(kind: str) -> type[Source]:
    """The source class for `kind`; an unknown kind raises CollectError listing the known ones."""
    if kind not in kinds():
        raise CollectError(unknown_source_message(kind))
    module = importlib.import_module(f"{__name__}.{kind}")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Source)
        and value.__module__ == module.__name__
        and getattr(value, "KIND", None) == kind
    ]
    if len(found) != 1:
        raise TypeError(
            f"{module.__name__} must define exactly one Source subclass with KIND = {kind!r} (found "
            f"{len(found)}); every module in {SOURCES_FOLDER} is a source (name helper modules with a "
            "leading '_')."
        )
    return found[0]


def unknown_source_message(kind: str) -> str:
    """What to say about a data.source that no module of this package provides."""
    return (
        f"unknown data source {kind!r}; data.source in params.yaml is one of {', '.join(kinds())} "
        f"(one module each in {SOURCES_FOLDER}: add a module there to read another kind of data)"
    )


def check_sha256(actual: str, expected: str | None, what: str) -> None:
    """Raise CollectError when `expected` is set and differs from `actual`."""
    if expected and actual != expected:
        raise CollectError(
            f"sha256 mismatch for {what}: expected {expected}, got {actual}. The file changed or "
            "the download was corrupted; check the source, or set data.sha256 in params.yaml to "
            "the new value if the change is intended."
        )


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def _gunzip(source: Path, target: Path) -> None:
    try:
        with gzip.open(source, "rb") as packed, target.open("wb") as out:
            shutil.copyfileobj(packed, out, CHUNK_BYTES)
    except (OSError, EOFError) as exc:
        raise CollectError(f"{source} is a damaged gzip file ({exc}); fetch it again.") from exc


def store(source: Path, target: Path) -> tuple[str, str | None]:
    """Put the file `source` at `target` as plain CSV (gzip is unpacked).

    Returns the sha256 of `source`'s own bytes and its compression ('gzip', or None).
    """
    digest = sha256_file(source)
    if _is_gzip(source):
        _gunzip(source, target)
        return digest, "gzip"
    shutil.copyfile(source, target)
    return digest, None
