"""The clean stage: type the raw table, validate every row, quarantine what fails.

Nothing is dropped silently: each rejected row lands in `data/interim/quarantine.csv` with the
reasons it failed, and `rows_in == rows_clean + rows_quarantined` is checked before anything is
written. Counts go to `reports/data_quality.json`.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..config import CleanParams, DataParams, Paths, SplitParams
from .io import DataError, atomic_path, read_csv, write_json
from .schema import (
    DATETIME_PARTS,
    DatasetSchema,
    Target,
    build_pandera_schema,
    infer_schema,
    parse_boolean,
    parse_numeric,
)

log = logging.getLogger(__name__)

REASON_COLUMN = "quarantine_reason"
ROW_COLUMN = "source_row"


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


def _type_columns(raw: pd.DataFrame, schema: DatasetSchema, reasons: dict[int, list[str]]) -> pd.DataFrame:
    """The model-ready typed table; values that do not parse are recorded as reasons."""
    typed: dict[str, pd.Series] = {}

    def note_unparsed(name: str, original: pd.Series, parsed: pd.Series, expected: str) -> None:
        bad = original.notna() & parsed.isna()
        for index, value in original[bad].items():
            reasons[index].append(f"{name}: '{_short(value)}' is not {expected}")

    for name in schema.datetime_columns:
        original = raw[name]
        parsed = pd.to_datetime(original, errors="coerce", format="mixed")
        note_unparsed(name, original, parsed, "a date")
        for part in DATETIME_PARTS:
            typed[f"{name}_{part}"] = getattr(parsed.dt, part).astype("float64")

    for column in schema.features:
        if column.derived_from:
            continue
        original = raw[column.name]
        if column.kind == "categorical":
            typed[column.name] = original.astype("str").str.strip().where(original.notna())
            continue
        parsed = parse_boolean(original) if column.kind == "boolean" else parse_numeric(original)
        note_unparsed(column.name, original, parsed, "true/false" if column.kind == "boolean" else "a number")
        infinite = np.isinf(parsed)
        for index in parsed[infinite].index:
            reasons[index].append(f"{column.name}: infinite value")
        typed[column.name] = parsed.where(~infinite)

    target = raw[schema.target.name]
    if schema.target.task == "classification":
        typed[schema.target.name] = target.astype("str").str.strip().where(target.notna())
    else:
        parsed = parse_numeric(target)
        note_unparsed(schema.target.name, target, parsed, "a number")
        typed[schema.target.name] = parsed.where(np.isfinite(parsed))
    missing_target = typed[schema.target.name].isna() & target.isna()
    for index in missing_target[missing_target].index:
        reasons[index].append(f"{schema.target.name}: target is missing")

    frame = pd.DataFrame(typed, index=raw.index)
    return frame[[*schema.feature_names, schema.target.name]]


def _missing_policy_reasons(
    frame: pd.DataFrame, schema: DatasetSchema, reasons: dict[int, list[str]]
) -> None:
    for column in schema.features:
        if column.nullable:
            continue
        for index in frame.index[frame[column.name].isna()]:
            reasons[index].append(f"{column.name}: missing (params.yaml says drop rows missing it)")


def _pandera_reasons(frame: pd.DataFrame, schema: DatasetSchema, reasons: dict[int, list[str]]) -> None:
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
            reasons[int(case.index)].append(
                f"{case.column}: {case.check} (got '{_short(case.failure_case)}')"
            )
        table_level = cases[cases["index"].isna()]
        if not table_level.empty:
            problems = "; ".join(f"{c.column}: {c.check}" for c in table_level.itertuples(index=False))
            raise DataError(f"the cleaned table does not match its schema: {problems}") from errors


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
            f"class(es) {listing} have fewer than {minimum} rows, too few for a stratified "
            f"{100 * (1 - split.test_size):.0f}%/{100 * split.test_size:.0f}% split. Collect more rows for them, "
            "merge them into another class, or drop them from the source file."
        )


def clean_table(raw: pd.DataFrame, data: DataParams, clean: CleanParams, split: SplitParams) -> CleanResult:
    """Validate `raw` and split it into clean rows and quarantined rows (pure: no files)."""
    schema = infer_schema(raw, data, clean)
    raw = raw.reset_index(drop=True)
    reasons: dict[int, list[str]] = defaultdict(list)
    typed = _type_columns(raw, schema, reasons)
    _missing_policy_reasons(typed, schema, reasons)
    _pandera_reasons(typed, schema, reasons)

    if clean.drop_duplicates:
        accepted = typed.loc[[i for i in typed.index if not reasons[i]]]
        duplicated = accepted.duplicated(keep="first")
        for index in accepted.index[duplicated]:
            reasons[index].append("duplicate of an earlier row")

    rejected = [i for i in typed.index if reasons[i]]
    clean_frame = typed.drop(index=rejected).reset_index(drop=True)
    quarantine = raw.loc[rejected].copy()
    quarantine.insert(0, ROW_COLUMN, [i + 2 for i in rejected])  # line number in the CSV file
    quarantine[REASON_COLUMN] = ["; ".join(reasons[i]) for i in rejected]

    if len(raw) != len(clean_frame) + len(quarantine):
        raise AssertionError(
            f"row accounting broken: {len(raw)} in != {len(clean_frame)} clean + {len(quarantine)} quarantined"
        )
    if clean_frame.empty:
        raise DataError(
            "every row was rejected; see data/interim/quarantine.csv for the reasons and fix the "
            "data or the column types in params.yaml."
        )
    if schema.target.task == "classification":
        _check_classes(clean_frame, schema.target, split)
        classes = sorted(clean_frame[schema.target.name].unique().tolist())
        schema = schema.model_copy(update={"target": schema.target.model_copy(update={"classes": classes})})

    reason_counts: Counter[str] = Counter()
    for index in rejected:
        for reason in reasons[index]:
            reason_counts[reason.split(" (got ")[0].split(": '")[0]] += 1
    quality = {
        "rows_in": len(raw),
        "rows_clean": len(clean_frame),
        "rows_quarantined": len(quarantine),
        "duplicates_removed": sum(1 for i in rejected if "duplicate of an earlier row" in reasons[i]),
        "quarantine_reasons": dict(reason_counts.most_common()),
        "missing_values": {name: int(count) for name, count in raw.isna().sum().items()},
        "columns_dropped": schema.dropped,
        "features": len(schema.features),
    }
    return CleanResult(clean=clean_frame, quarantine=quarantine, schema=schema, quality=quality)


def run_clean(data: DataParams, clean: CleanParams, split: SplitParams, paths: Paths) -> dict[str, Any]:
    """The clean stage: read data/raw, write clean table, quarantine, schema and quality report."""
    raw = read_csv(paths.raw_csv(data.name))
    result = clean_table(raw, data, clean, split)
    paths.interim.mkdir(parents=True, exist_ok=True)
    with atomic_path(paths.clean) as tmp:
        result.clean.to_parquet(tmp, index=False)
    with atomic_path(paths.quarantine) as tmp:
        result.quarantine.to_csv(tmp, index=False)
    write_json(paths.schema, result.schema.model_dump(mode="json"))
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
