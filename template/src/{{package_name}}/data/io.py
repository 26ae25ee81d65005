"""Reading and writing data files safely: checksums, atomic writes, forgiving but honest CSV parsing."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

SNIFF_BYTES = 64 * 1024
SNIFF_RECORDS = 50
DELIMITERS = ",;\t|"
# Tokens that mean "no value" in CSVs found in the wild (pandas' defaults plus '?', '-' and friends).
NA_VALUES = ["", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "?", "-", "#N/A", "<NA>"]
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
GZIP_MAGIC = b"\x1f\x8b"
FILE_MODE = 0o644
DIR_MODE = 0o755


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
        tmp.chmod(FILE_MODE)  # mkstemp creates owner-only files
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder; it replaces the folder `target` only if the block succeeds.

    A stage writes all its outputs into the staging folder, so a failure leaves the previous
    outputs exactly as they were (or no folder at all): never a mix of old and new files.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield staging
        staging.chmod(DIR_MODE)
        for path in staging.rglob("*"):
            path.chmod(DIR_MODE if path.is_dir() else FILE_MODE)
        previous = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
        if target.exists():
            os.replace(target, previous)  # a folder cannot replace a folder in one step on Windows
        os.replace(staging, target)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically, pretty-printed and with a trailing newline (diff-friendly)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n", encoding="utf-8")


def read_json(path: Path) -> Any:
    """Read a JSON file written by an earlier stage, with a hint when it is missing."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError(f"{path} does not exist yet; run the pipeline first ('make pipeline').") from exc


def _not_utf8(shown: str, error: UnicodeDecodeError, offset: int, line: int) -> DataError:
    byte = error.object[error.start : error.start + 1].hex()
    return DataError(
        f"{shown} is not UTF-8 text: byte 0x{byte} on line {line} (byte offset {offset + error.start}) "
        "does not decode. Re-save the file as UTF-8 (in Excel: Save As > 'CSV UTF-8'), or set "
        "data.encoding in params.yaml to the file's encoding (for example cp1252 or latin-1)."
    )


def detect_encoding(path: Path, declared: str | None = None, *, name: str | None = None) -> str:
    """The file's text encoding: `declared` if given, UTF-16 if it starts with that BOM, else UTF-8.

    The whole file is checked (streaming), because a single stray byte deep in the file would
    otherwise fail later or, worse, be read as the wrong character. Guessing a legacy encoding
    silently turns names into mojibake, so a non-UTF-8 file raises DataError that says how to fix it.
    `name` is how messages call the file (default: its path).
    """
    shown = name or str(path)
    if declared:
        try:
            codecs.lookup(declared)
        except LookupError as exc:
            raise DataError(
                f"data.encoding '{declared}' is not an encoding Python knows; use e.g. utf-8, cp1252 or latin-1."
            ) from exc
        return declared
    with path.open("rb") as handle:
        head = handle.read(4)
        if head.startswith(UTF16_BOMS):
            return "utf-16"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        offset, line = 0, 1
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise _not_utf8(shown, exc, offset, line + chunk.count(b"\n", 0, exc.start)) from exc
            offset += len(chunk)
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise _not_utf8(shown, exc, offset, line) from exc
    return "utf-8-sig"  # reads plain UTF-8 too, and drops Excel's byte-order mark


def sniff_delimiter(text: str) -> str:
    """The delimiter among , ; tab | that splits the first records into the most consistent columns.

    Each candidate parses the sample with the csv module (so quoted fields that contain other
    delimiters or line breaks count correctly); the winner gives every record the header's field
    count, with the most fields. A single-column file falls back to ','.
    """
    best, best_score = ",", (0.0, 1)
    lines = text.splitlines(keepends=True)
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end mid-record
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO("".join(lines)), delimiter=delimiter)
        records = []
        try:
            for record in reader:
                if record:
                    records.append(record)
                if len(records) >= SNIFF_RECORDS:
                    break
        except csv.Error:
            continue
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        score = (sum(len(r) == width for r in records) / len(records), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file is written: what `read_csv` detected (recorded in data/raw/metadata.json)."""

    encoding: str
    delimiter: str
    skip_rows: int = 0


def detect_format(path: Path, encoding: str | None = None, *, name: str | None = None) -> CsvFormat:
    """Encoding and delimiter of a CSV file; raises DataError for files that are not CSV text."""
    shown = name or str(path)
    if not path.is_file():
        raise DataError(f"{shown} does not exist; run the collect stage first ('make pipeline').")
    with path.open("rb") as handle:
        sample = handle.read(SNIFF_BYTES)
    if not sample.strip():
        raise DataError(f"{shown} is empty; point the project at a CSV file with a header and rows.")
    if sample.startswith(GZIP_MAGIC):
        raise DataError(f"{shown} is gzip-compressed; decompress it (gunzip) or let the collect stage do it.")
    if b"\x00" in sample and not sample.startswith(UTF16_BOMS):
        raise DataError(f"{shown} looks binary (it contains NUL bytes), not like a CSV file.")
    resolved = detect_encoding(path, encoding, name=shown)
    text = sample.decode(resolved, errors="ignore").lstrip("\ufeff")
    if not text.strip():
        raise DataError(f"{shown} is empty; point the project at a CSV file with a header and rows.")
    first_line = text.split("\n", 1)[0].strip()
    if first_line.lower().startswith("sep=") and len(first_line) == 5:  # Excel's delimiter hint
        return CsvFormat(resolved, first_line[4], skip_rows=1)
    return CsvFormat(resolved, sniff_delimiter(text))


def read_csv(path: Path, encoding: str | None = None, *, name: str | None = None) -> pd.DataFrame:
    """Read a CSV as text columns (pandas 3 `str` dtype), whatever its delimiter and line endings.

    Every value stays the text it was in the file, so codes such as zip codes keep their leading
    zeros; types are decided later, by the schema. Raises DataError with a fix for the common
    failures: empty file, header only, binary or non-UTF-8 data, rows that do not parse. `name` is
    how messages call the file (default: its path). The detected format is in `frame.attrs`.
    """
    import pandas as pd  # here, not at the top: config validation and the report stage import this module

    shown = name or str(path)
    fmt = detect_format(path, encoding, name=shown)
    try:
        frame = pd.read_csv(
            path,
            sep=fmt.delimiter,
            encoding=fmt.encoding,
            skiprows=fmt.skip_rows,
            dtype="str",
            na_values=NA_VALUES,
            keep_default_na=True,
            skipinitialspace=True,
            compression=None,
        )
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{shown} has no header row; the first line must name the columns.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{shown} could not be parsed as CSV ({exc}); check that every row has the same "
            "number of fields as the header and that quotes are balanced."
        ) from exc
    frame.columns = [str(column).strip() for column in frame.columns]
    duplicates = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicates:
        raise DataError(
            f"{shown} has duplicate column names ({', '.join(duplicates)}); rename them in the file."
        )
    if frame.empty:
        raise DataError(f"{shown} has a header but no data rows; add rows to the file.")
    frame.attrs["first_data_row"] = 2 + fmt.skip_rows  # for row numbers people can find in the file
    frame.attrs["encoding"], frame.attrs["delimiter"] = fmt.encoding, fmt.delimiter
    return frame
