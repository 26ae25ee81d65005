"""Reading and writing data files safely: checksums, atomic writes, forgiving CSV parsing."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
# Tokens that mean "no value" in CSVs found in the wild.
NA_VALUES = ["", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?", "-", "#N/A"]


class DataError(ValueError):
    """A problem with the data itself; the message says what is wrong and what to do."""


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so large files need little memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; it replaces `target` only if the block succeeds.

    A crash, a failed check or Ctrl-C leaves `target` as it was (or absent): never half-written.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically, pretty-printed and with a trailing newline (diff-friendly)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file written by an earlier stage, with a hint when it is missing."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(f"{path} does not exist yet; run the pipeline first ('make pipeline').") from exc


def detect_encoding(sample: bytes) -> str:
    """'utf-8-sig' when the bytes decode as UTF-8, else 'cp1252' (latin-1 superset) with a warning."""
    try:
        sample.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        # A multi-byte character may be cut at the sample's end; only earlier errors count.
        if exc.start >= len(sample) - 4:
            return "utf-8-sig"
    for encoding in ("cp1252", "latin-1"):
        try:
            sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        log.warning("file is not UTF-8; reading it as %s. Re-save it as UTF-8 to be sure.", encoding)
        return encoding
    return "latin-1"  # decodes any byte sequence


def sniff_delimiter(text: str) -> str:
    """The delimiter among , ; tab | that makes the header and first rows most consistent."""
    try:
        return csv.Sniffer().sniff(text, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def read_csv(path: Path) -> pd.DataFrame:
    """Read a user's CSV with pandas 3 semantics, whatever its delimiter or encoding.

    Raises DataError with a fix for the common failures: empty file, header only, binary data,
    rows that do not parse.
    """
    if not path.is_file():
        raise DataError(f"{path} does not exist; run the collect stage first ('make pipeline').")
    with path.open("rb") as handle:
        sample = handle.read(SNIFF_BYTES)
    if not sample.strip():
        raise DataError(f"{path} is empty; point the project at a CSV file with a header and rows.")
    if b"\x00" in sample:
        raise DataError(f"{path} looks binary (it contains NUL bytes), not like a CSV file.")
    encoding = detect_encoding(sample)
    delimiter = sniff_delimiter(sample.decode(encoding, errors="replace"))
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            encoding=encoding,
            na_values=NA_VALUES,
            keep_default_na=True,
            skipinitialspace=True,
            compression="infer",
        )
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{path} has no header row; the first line must name the columns.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path} could not be parsed as CSV ({exc}); check that every row has the same "
            "number of fields as the header and that quotes are balanced."
        ) from exc
    frame.columns = [str(column).strip() for column in frame.columns]
    if frame.empty:
        raise DataError(f"{path} has a header but no data rows; add rows to the file.")
    return frame
