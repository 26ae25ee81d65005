"""clean: keep the images that can be used, quarantine the rest with a reason each.

Checked in this order, each file getting the first reason that applies:
- `not_an_image`: the file does not decode (not an image format, truncated, corrupt);
- `too_large`: it declares more pixels than clean.max_pixels (a decompression bomb);
- `too_small`: it is narrower than clean.min_width or lower than clean.min_height;
- `duplicate`: its bytes equal an earlier file's (by sha256, across classes too: the same picture
  under two labels would teach the model both);
- `small_class`: its class has fewer than clean.min_per_class usable images (too few to split).

`files_in == files_clean + files_quarantined` always holds; reports/data_quality.json uses the
tabular projects' keys (rows_in, rows_clean, rows_quarantined, ...), one image being one row.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.io import DataError, atomic_path, write_json
from .params import ImageCleanParams, ImageParams, ImagePaths
from .preprocess import CorruptImageError, ImageTooLargeError, NotAnImageError, decode

log = logging.getLogger(__name__)

NOT_AN_IMAGE = "not_an_image"
TOO_LARGE = "too_large"
TOO_SMALL = "too_small"
DUPLICATE = "duplicate"
SMALL_CLASS = "small_class"
INDEX_COLUMNS = ("path", "label", "sha256", "width", "height")
QUARANTINE_COLUMNS = ("path", "label", "reason", "detail")


@dataclass(frozen=True)
class Verdict:
    """One raw file: where it is (relative to data/raw/images), its class, and why it was quarantined."""

    path: str
    label: str
    sha256: str
    width: int = 0
    height: int = 0
    reason: str | None = None
    detail: str = ""


def inspect_file(file: Path, root: Path, settings: ImageCleanParams, seen: dict[str, str]) -> Verdict:
    """The verdict on one file; `seen` maps the sha256 of every file kept so far to its path."""
    data = file.read_bytes()
    relative = file.relative_to(root).as_posix()
    label = file.parent.name
    digest = hashlib.sha256(data).hexdigest()
    try:
        image = decode(data, settings.max_pixels)
    except ImageTooLargeError as exc:
        return Verdict(relative, label, digest, reason=TOO_LARGE, detail=str(exc))
    except (NotAnImageError, CorruptImageError) as exc:
        return Verdict(relative, label, digest, reason=NOT_AN_IMAGE, detail=str(exc))
    width, height = image.size
    if width < settings.min_width or height < settings.min_height:
        detail = f"{width}x{height}, under the {settings.min_width}x{settings.min_height} minimum"
        return Verdict(relative, label, digest, width, height, TOO_SMALL, detail)
    if digest in seen:
        return Verdict(relative, label, digest, width, height, DUPLICATE, f"same bytes as {seen[digest]}")
    seen[digest] = relative
    return Verdict(relative, label, digest, width, height)


def judge(root: Path, settings: ImageCleanParams) -> list[Verdict]:
    """Every file under root/<class>/, in a stable order, with its verdict (pure: writes nothing)."""
    seen: dict[str, str] = {}
    files = sorted(p for p in root.glob("*/*") if p.is_file())
    verdicts = [inspect_file(file, root, settings, seen) for file in files]
    usable = Counter(v.label for v in verdicts if v.reason is None)
    small = {label for label, count in usable.items() if count < settings.min_per_class}
    return [
        Verdict(
            v.path,
            v.label,
            v.sha256,
            v.width,
            v.height,
            SMALL_CLASS,
            f"class {v.label!r} has {usable[v.label]} usable images, under clean.min_per_class "
            f"({settings.min_per_class})",
        )
        if v.reason is None and v.label in small
        else v
        for v in verdicts
    ]


def quality(verdicts: list[Verdict]) -> dict[str, Any]:
    """reports/data_quality.json, in the tabular projects' layout (an image is a row)."""
    kept = [v for v in verdicts if v.reason is None]
    reasons = Counter(v.reason for v in verdicts if v.reason is not None)
    return {
        "rows_in": len(verdicts),
        "rows_clean": len(kept),
        "rows_quarantined": len(verdicts) - len(kept),
        "duplicates_removed": reasons.get(DUPLICATE, 0),
        "quarantine_reasons": dict(reasons.most_common()),
        "missing_values": {},
        "missing_policy": {},
        "columns_dropped": [],
        "features": 1,
        "classes": dict(sorted(Counter(v.label for v in kept).items())),
    }


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def run_clean(params: ImageParams, paths: ImagePaths) -> dict[str, Any]:
    """Judge every raw image; write the clean index, the quarantine and the data-quality report."""
    root = paths.raw_images
    if not root.is_dir():
        raise DataError(f"{root} does not exist; run `collect` first (or `uv run dvc repro`).")
    verdicts = judge(root, params.clean)
    report = quality(verdicts)
    if report["rows_in"] != report["rows_clean"] + report["rows_quarantined"]:
        raise RuntimeError(f"clean lost images: {report}")  # a bug, never the data's fault
    if len(report["classes"]) < 2:
        raise DataError(
            f"{len(report['classes'])} class(es) left after cleaning (quarantine reasons: "
            f"{report['quarantine_reasons'] or 'none'}); a classifier needs at least 2 classes with "
            f"clean.min_per_class ({params.clean.min_per_class}) usable images each"
        )
    kept = [v.__dict__ for v in verdicts if v.reason is None]
    quarantined = [v.__dict__ for v in verdicts if v.reason is not None]
    _write_csv(paths.clean_index, INDEX_COLUMNS, kept)
    _write_csv(paths.quarantine, QUARANTINE_COLUMNS, quarantined)
    write_json(paths.data_quality, report)
    log.info(
        "images in: %d, clean: %d, quarantined: %d (%s)",
        report["rows_in"],
        report["rows_clean"],
        report["rows_quarantined"],
        ", ".join(f"{k}: {v}" for k, v in report["quarantine_reasons"].items()) or "no problems found",
    )
    return report


def read_index(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV that clean or featurize wrote."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError as exc:
        raise DataError(f"{path} does not exist; run the stages before it (`uv run dvc repro`).") from exc
