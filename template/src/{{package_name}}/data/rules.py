"""The cleaning rules both engines share: row problems and their words, the table-level checks,
and the layout of `reports/data_quality.json`.

The pandas engine (`data/clean.py`) and the Spark engine (`spark/clean.py`) differ only in where
the rows are. Each types and checks its rows, naming every problem with the words below, counts
what it found into a `Tally`, and hands the tally to `conclude`, which applies every rule about
the table as a whole. A rule or a message changed here is changed for both engines, and
`tests/spark/test_engines.py` feeds both the same rows to prove they agree.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import CleanParams, SplitParams
from .io import DataError, write_json

if TYPE_CHECKING:
    from .schema import DatasetSchema

log = logging.getLogger(__name__)

REASON_COLUMN = "quarantine_reason"
ROW_COLUMN = "source_row"  # the row's number in the raw file, the header being row 1
MIN_CLEAN_ROWS = 10
MAX_CLASSES = 100
DUPLICATE_WARN_SHARE = 0.1
SUMMARY_REASONS = 5  # how many reasons an error message quotes

# What can be wrong with one row, in the words quarantine.csv and data_quality.json use.
NOT_PARSED = {"numeric": "not a number", "boolean": "not true/false", "datetime": "not a date"}
INFINITE = "infinite value"
TARGET_MISSING = "target value missing"
MISSING_DROPPED = "missing value (clean.missing: drop)"
DUPLICATE = "duplicate of an earlier row"
EARLIER_ROW = "row "  # a duplicate's value: 'row <the file row it repeats>'
# pandera's names for its built-in checks, in words (the others carry their own error text).
PANDERA_CHECKS = {"not_nullable": "missing value", "field_uniqueness": "duplicate value"}


@dataclass(frozen=True)
class Problem:
    """Why a row is quarantined: the column, what is wrong (the counted key) and the offending value."""

    column: str | None
    problem: str
    value: str | None = None

    @property
    def key(self) -> str:
        """The reason without the value: rows are counted per key in data_quality.json."""
        return f"{self.column}: {self.problem}" if self.column else self.problem

    def __str__(self) -> str:
        return self.key if self.value is None else f"{self.key} (got '{_short(self.value)}')"


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_name(check: str) -> str:
    """A pandera check's failure in words: its error text, or the words for a built-in check."""
    return PANDERA_CHECKS.get(check, check)


@dataclass(frozen=True)
class Tally:
    """What an engine counted over the rows: everything the table-level rules need.

    `class_counts` holds the clean rows per class (classification only); `levels` the values each
    categorical feature takes in the clean rows.
    """

    rows_in: int
    rows_clean: int
    rows_quarantined: int
    reason_counts: Mapping[str, int]
    missing_values: dict[str, int]
    class_counts: dict[str, int]
    levels: dict[str, list[str]]

    def ranked_reasons(self) -> dict[str, int]:
        """Reason counts, most frequent first, ties by name (the same order from either engine)."""
        return dict(sorted(self.reason_counts.items(), key=lambda item: (-item[1], item[0])))


def missing_policy(schema: DatasetSchema, clean: CleanParams) -> dict[str, str]:
    """The missing-value policy of every raw column the model uses: 'impute' or 'drop'."""
    sources = [c.derived_from or c.name for c in schema.features]
    return {name: clean.missing.get(name, clean.missing_default) for name in dict.fromkeys(sources)}


def check_accounting(tally: Tally) -> None:
    """Every row is either clean or quarantined: nothing is dropped silently."""
    if tally.rows_in != tally.rows_clean + tally.rows_quarantined:
        raise AssertionError(
            f"row accounting broken: {tally.rows_in} in != {tally.rows_clean} clean + "
            f"{tally.rows_quarantined} quarantined"
        )


def check_clean_rows(tally: Tally) -> None:
    """Enough clean rows to fit a model; else the commonest reasons and what to relax."""
    if tally.rows_clean >= MIN_CLEAN_ROWS:
        return
    reasons = list(tally.ranked_reasons().items())[:SUMMARY_REASONS]
    summary = ", ".join(f"{key}: {count}" for key, count in reasons)
    raise DataError(
        f"only {tally.rows_clean} of {tally.rows_in} rows are clean ({summary or 'the file is tiny'}); a "
        f"model needs at least {MIN_CLEAN_ROWS}. Fix the data, or relax clean settings in params.yaml "
        "(column_types, missing, range_margin)."
    )


def min_class_rows(split: SplitParams) -> int:
    """The fewest clean rows a class needs so that a stratified split puts one on each side."""
    return max(2, math.ceil(1 / min(split.test_size, 1 - split.test_size)))


def check_classes(class_counts: Mapping[str, int], target: str, split: SplitParams) -> None:
    """At least two classes, each with enough clean rows for a stratified split."""
    if len(class_counts) < 2:
        raise DataError(
            f"after cleaning, target '{target}' has only {len(class_counts)} class(es); a classifier "
            "needs at least two. Look at data/interim/quarantine.csv for the rejected rows."
        )
    minimum = min_class_rows(split)
    too_small = sorted(
        ((label, count) for label, count in class_counts.items() if count < minimum),
        key=lambda item: (-item[1], item[0]),
    )
    if too_small:
        listing = ", ".join(f"'{label}' ({count} rows)" for label, count in too_small)
        raise DataError(
            f"class(es) {listing} of target '{target}' have fewer than {minimum} clean rows, too "
            f"few for a stratified {100 * (1 - split.test_size):.0f}%/{100 * split.test_size:.0f}% "
            "split. Collect more rows for them, merge them into another class, or remove them from "
            "the source file."
        )


def check_class_count(target: str, count: int) -> None:
    """A classification target with more than MAX_CLASSES classes is a number to predict."""
    if count > MAX_CLASSES:
        raise DataError(
            f"target '{target}' has {count} classes; that looks like a number to predict. Set "
            "data.task to 'regression' in params.yaml."
        )


def too_many_categories(name: str, count: int, clean: CleanParams) -> str | None:
    """Why text column `name`, with `count` distinct values, is dropped (None: it is kept).

    A column pinned in clean.column_types is kept however many values it has.
    """
    if count <= clean.max_categories or name in clean.column_types:
        return None
    return (
        f"{count} distinct values (more than clean.max_categories={clean.max_categories}); pin it "
        "as categorical in clean.column_types to keep it"
    )


def warn_duplicates(duplicates: int, rows: int) -> None:
    """Say so when many rows repeat an earlier one: they may be real observations, not copies."""
    if duplicates > DUPLICATE_WARN_SHARE * rows:
        log.warning(
            "%d of %d rows (%.0f%%) repeat an earlier row exactly and are quarantined. If repeated rows "
            "are real observations in this data, set clean.drop_duplicates: false in params.yaml.",
            duplicates,
            rows,
            100 * duplicates / rows,
        )


def refresh_levels(
    schema: DatasetSchema, levels: Mapping[str, list[str]], classes: list[str]
) -> DatasetSchema:
    """Categories and classes as they are in the clean rows (what the model will actually see)."""
    features = [
        c.model_copy(update={"categories": sorted(levels[c.name])}) if c.kind == "categorical" else c
        for c in schema.features
    ]
    target = schema.target
    if target.task == "classification":
        target = target.model_copy(update={"classes": sorted(classes)})
    return schema.model_copy(update={"features": features, "target": target})


def quality_report(tally: Tally, schema: DatasetSchema, clean: CleanParams) -> dict[str, Any]:
    """The content of reports/data_quality.json."""
    reasons = tally.ranked_reasons()
    return {
        "rows_in": tally.rows_in,
        "rows_clean": tally.rows_clean,
        "rows_quarantined": tally.rows_quarantined,
        "duplicates_removed": reasons.get(DUPLICATE, 0),
        "quarantine_reasons": reasons,
        "missing_values": tally.missing_values,
        "missing_policy": missing_policy(schema, clean),
        "columns_dropped": schema.dropped,
        "features": len(schema.features),
    }


def conclude(
    tally: Tally, schema: DatasetSchema, clean: CleanParams, split: SplitParams
) -> tuple[DatasetSchema, dict[str, Any]]:
    """Apply the table-level rules to an engine's tally; return the final schema and quality report.

    Raises DataError (nothing may be written then) when too few rows are clean or a class is too
    small to split, and AssertionError when the engine lost a row.
    """
    check_accounting(tally)
    warn_duplicates(tally.reason_counts.get(DUPLICATE, 0), tally.rows_in)
    check_clean_rows(tally)
    if schema.target.task == "classification":
        check_classes(tally.class_counts, schema.target.name, split)
    schema = refresh_levels(schema, tally.levels, list(tally.class_counts))
    return schema, quality_report(tally, schema, clean)


def write_quality(path: Path, quality: dict[str, Any]) -> None:
    """Write reports/data_quality.json and log its summary."""
    write_json(path, quality)
    log.info(
        "rows in: %d, clean: %d, quarantined: %d (%s)",
        quality["rows_in"],
        quality["rows_clean"],
        quality["rows_quarantined"],
        ", ".join(f"{k}: {v}" for k, v in quality["quarantine_reasons"].items()) or "no problems found",
    )
