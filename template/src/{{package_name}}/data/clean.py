"""The clean stage: type the raw table, validate every row, quarantine what fails.

Nothing is dropped silently: each rejected row lands in `data/interim/quarantine.csv`, as it was in
the raw file, with every reason it failed, and `rows_in == rows_clean + rows_quarantined` is
checked before anything is written. Counts per reason, missing values per column and the
duplicates removed go to `reports/data_quality.json`.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..config import CleanParams, DataParams, Paths, SplitParams
from .io import DataError, atomic_dir, read_csv, write_json
from .schema import (
    DatasetSchema,
    Target,
    as_text,
    build_pandera_schema,
    infer_schema,
    parse_boolean,
    parse_datetime,
    parse_numeric,
)

log = logging.getLogger(__name__)

REASON_COLUMN = "quarantine_reason"
ROW_COLUMN = "source_row"  # the row's number in the raw file, the header being row 1
MIN_CLEAN_ROWS = 10
DUPLICATE = "duplicate of an earlier row"
DUPLICATE_WARN_SHARE = 0.1
# pandera's names for its built-in checks, in words.
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


Reasons = dict[int, list[Problem]]


@dataclass(frozen=True)
class CleanResult:
    """The outcome of cleaning: the clean table, the quarantined rows and the accounting."""

    clean: pd.DataFrame
    quarantine: pd.DataFrame
    schema: DatasetSchema
    quality: dict[str, Any]


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _note_unparsed(
    name: str, original: pd.Series, parsed: pd.Series, expected: str, reasons: Reasons
) -> None:
    bad = original.notna() & parsed.isna()
    for index, value in original[bad].items():
        reasons[index].append(Problem(name, f"not {expected}", str(value)))


def _number(name: str, original: pd.Series, parsed: pd.Series, reasons: Reasons) -> pd.Series:
    infinite = np.isinf(parsed)
    for index, value in original[infinite].items():
        reasons[index].append(Problem(name, "infinite value", str(value)))
    return parsed.where(~infinite)


def _type_columns(raw: pd.DataFrame, schema: DatasetSchema, reasons: Reasons) -> pd.DataFrame:
    """The model-ready typed table; values that do not parse are recorded as reasons."""
    typed: dict[str, pd.Series] = {}
    for name in schema.datetime_columns:
        original = raw[name]
        parsed = parse_datetime(original, schema.datetime_formats.get(name))
        _note_unparsed(name, original, parsed, "a date", reasons)
        for column in schema.derived(name):
            part = column.name.removeprefix(f"{name}_")
            typed[column.name] = getattr(parsed.dt, part).astype("float64")

    for column in schema.features:
        if column.derived_from:
            continue
        original = raw[column.name]
        if column.kind == "categorical":
            typed[column.name] = as_text(original)
        elif column.kind == "boolean":
            parsed = parse_boolean(original)
            _note_unparsed(column.name, original, parsed, "true/false", reasons)
            typed[column.name] = parsed
        else:
            parsed = parse_numeric(original)
            _note_unparsed(column.name, original, parsed, "a number", reasons)
            typed[column.name] = _number(column.name, original, parsed, reasons)

    name = schema.target.name
    target = raw[name]
    for index in target.index[target.isna()]:
        reasons[index].append(Problem(name, "target value missing"))
    if schema.target.task == "classification":
        typed[name] = as_text(target)
    else:
        parsed = parse_numeric(target)
        _note_unparsed(name, target, parsed, "a number", reasons)
        typed[name] = _number(name, target, parsed, reasons)

    frame = pd.DataFrame(typed, index=raw.index)
    return frame[[*schema.feature_names, name]]


def missing_policy(schema: DatasetSchema, clean: CleanParams) -> dict[str, str]:
    """The missing-value policy of every raw column the model uses: 'impute' or 'drop'."""
    sources = [c.derived_from or c.name for c in schema.features]
    return {name: clean.missing.get(name, clean.missing_default) for name in dict.fromkeys(sources)}


def _missing_policy_reasons(raw: pd.DataFrame, policy: dict[str, str], reasons: Reasons) -> None:
    for name, rule in policy.items():
        if rule == "drop":
            for index in raw.index[raw[name].isna()]:
                reasons[index].append(Problem(name, "missing value (clean.missing: drop)"))


def _pandera_reasons(frame: pd.DataFrame, schema: DatasetSchema, reasons: Reasons) -> None:
    """Validate the rows that passed typing; each failed check becomes a reason on its row."""
    import pandera.errors

    candidates = frame.loc[[i for i in frame.index if not reasons[i]]]
    if candidates.empty:
        return
    try:
        build_pandera_schema(schema).validate(candidates, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        row_level = cases[cases["index"].notna()]
        for case in row_level.itertuples(index=False):
            check = PANDERA_CHECKS.get(str(case.check), str(case.check))
            reasons[int(case.index)].append(Problem(str(case.column), check, str(case.failure_case)))
        table_level = cases[cases["index"].isna()]
        if not table_level.empty:
            problems = "; ".join(f"{c.column}: {c.check}" for c in table_level.itertuples(index=False))
            raise DataError(
                f"the cleaned table does not match its schema ({problems}); this is a bug in the "
                "clean stage or a column pinned to the wrong kind in params.yaml."
            ) from errors


def _duplicate_reasons(raw: pd.DataFrame, first_row: int, reasons: Reasons) -> int:
    """Mark rows identical (in every raw column) to an earlier row; return how many there are."""
    duplicated = raw.duplicated(keep="first")
    if not duplicated.any():
        return 0
    hashes = pd.util.hash_pandas_object(raw, index=False)
    first_seen = {h: i for i, h in reversed(list(hashes.items()))}
    for index in raw.index[duplicated]:
        reasons[index].append(Problem(None, DUPLICATE, f"row {first_seen[hashes[index]] + first_row}"))
    count = int(duplicated.sum())
    if count > DUPLICATE_WARN_SHARE * len(raw):
        log.warning(
            "%d of %d rows (%.0f%%) repeat an earlier row exactly and are quarantined. If repeated rows "
            "are real observations in this data, set clean.drop_duplicates: false in params.yaml.",
            count,
            len(raw),
            100 * count / len(raw),
        )
    return count


def _check_classes(clean: pd.DataFrame, target: Target, split: SplitParams) -> None:
    counts = clean[target.name].value_counts()
    if len(counts) < 2:
        raise DataError(
            f"after cleaning, target '{target.name}' has only {len(counts)} class(es); a classifier "
            "needs at least two. Look at data/interim/quarantine.csv for the rejected rows."
        )
    minimum = max(2, int(np.ceil(1 / min(split.test_size, 1 - split.test_size))))
    too_small = counts[counts < minimum]
    if not too_small.empty:
        listing = ", ".join(f"'{label}' ({count} rows)" for label, count in too_small.items())
        raise DataError(
            f"class(es) {listing} of target '{target.name}' have fewer than {minimum} clean rows, too "
            f"few for a stratified {100 * (1 - split.test_size):.0f}%/{100 * split.test_size:.0f}% "
            "split. Collect more rows for them, merge them into another class, or remove them from "
            "the source file."
        )


def _refresh_levels(schema: DatasetSchema, clean: pd.DataFrame) -> DatasetSchema:
    """Categories and classes as they are in the clean rows (what the model will actually see)."""
    features = [
        c.model_copy(update={"categories": sorted(clean[c.name].dropna().unique().tolist())})
        if c.kind == "categorical"
        else c
        for c in schema.features
    ]
    target = schema.target
    if target.task == "classification":
        target = target.model_copy(update={"classes": sorted(clean[target.name].unique().tolist())})
    return schema.model_copy(update={"features": features, "target": target})


def clean_table(raw: pd.DataFrame, data: DataParams, clean: CleanParams, split: SplitParams) -> CleanResult:
    """Validate `raw` and split it into clean rows and quarantined rows (pure: no files)."""
    first_row = int(raw.attrs.get("first_data_row", 2))
    schema = infer_schema(raw, data, clean)
    raw = raw.reset_index(drop=True)
    reasons: Reasons = defaultdict(list)
    typed = _type_columns(raw, schema, reasons)
    policy = missing_policy(schema, clean)
    _missing_policy_reasons(raw, policy, reasons)
    _pandera_reasons(typed, schema, reasons)
    duplicates = _duplicate_reasons(raw, first_row, reasons) if clean.drop_duplicates else 0

    rejected = [i for i in typed.index if reasons[i]]
    clean_frame = typed.drop(index=rejected).reset_index(drop=True)
    quarantine = raw.loc[rejected].copy()
    quarantine.insert(0, ROW_COLUMN, [i + first_row for i in rejected])
    quarantine[REASON_COLUMN] = ["; ".join(map(str, reasons[i])) for i in rejected]

    if len(raw) != len(clean_frame) + len(quarantine):
        raise AssertionError(
            f"row accounting broken: {len(raw)} in != {len(clean_frame)} clean + {len(quarantine)} quarantined"
        )
    reason_counts: Counter[str] = Counter(problem.key for i in rejected for problem in reasons[i])
    summary = ", ".join(f"{key}: {count}" for key, count in reason_counts.most_common(5))
    if len(clean_frame) < MIN_CLEAN_ROWS:
        raise DataError(
            f"only {len(clean_frame)} of {len(raw)} rows are clean ({summary or 'the file is tiny'}); a "
            f"model needs at least {MIN_CLEAN_ROWS}. Fix the data, or relax clean settings in params.yaml "
            "(column_types, missing, range_margin)."
        )
    if schema.target.task == "classification":
        _check_classes(clean_frame, schema.target, split)
    schema = _refresh_levels(schema, clean_frame)

    quality = {
        "rows_in": len(raw),
        "rows_clean": len(clean_frame),
        "rows_quarantined": len(quarantine),
        "duplicates_removed": duplicates,
        "quarantine_reasons": dict(reason_counts.most_common()),
        "missing_values": {name: int(count) for name, count in raw.isna().sum().items()},
        "missing_policy": policy,
        "columns_dropped": schema.dropped,
        "features": len(schema.features),
    }
    return CleanResult(clean=clean_frame, quarantine=quarantine, schema=schema, quality=quality)


def run_clean(data: DataParams, clean: CleanParams, split: SplitParams, paths: Paths) -> dict[str, Any]:
    """The clean stage: read data/raw, write the clean table, quarantine, schema and quality report.

    `data/interim/` is replaced as a whole only when cleaning succeeds, so a failure leaves no
    partial output.
    """
    raw = read_csv(paths.raw_csv(data.name), data.encoding)
    result = clean_table(raw, data, clean, split)
    with atomic_dir(paths.interim) as staging:
        result.clean.to_parquet(staging / paths.clean.name, index=False)
        result.quarantine.to_csv(staging / paths.quarantine.name, index=False)
        write_json(staging / paths.schema.name, result.schema.model_dump(mode="json"))
    write_json(paths.data_quality, result.quality)
    quality = result.quality
    log.info(
        "rows in: %d, clean: %d, quarantined: %d (%s)",
        quality["rows_in"],
        quality["rows_clean"],
        quality["rows_quarantined"],
        ", ".join(f"{k}: {v}" for k, v in quality["quarantine_reasons"].items()) or "no problems found",
    )
    return quality
