"""The clean stage: type the raw table, validate every row, quarantine what fails.

Nothing is dropped silently: each rejected row lands in `data/interim/quarantine.csv`, as it was in
the raw file, with every reason it failed, and `rows_in == rows_clean + rows_quarantined` is
checked before anything is written. Counts per reason, missing values per column and the
duplicates removed go to `reports/data_quality.json`.

This module is the pandas engine's row-level work. The rules about the table as a whole, the words
of every reason and the report's layout are in `rules.py`, which the Spark engine shares.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from ..config import CleanParams, DataParams, Paths, SplitParams
from . import rules
from .io import DataError, atomic_dir, read_csv, write_json
from .schema import (
    DatasetSchema,
    as_text,
    build_pandera_schema,
    infer_schema,
    parse_boolean,
    parse_datetime,
    parse_numeric,
)

# Keyed by the raw table's index: its row positions (a RangeIndex), which pandas types as Hashable.
Reasons = dict[int, list[rules.Problem]]


@dataclass(frozen=True)
class CleanResult:
    """The outcome of cleaning: the clean table, the quarantined rows and the accounting."""

    clean: pd.DataFrame
    quarantine: pd.DataFrame
    schema: DatasetSchema
    quality: dict[str, Any]


def _note_unparsed(name: str, original: pd.Series, parsed: pd.Series, kind: str, reasons: Reasons) -> None:
    bad = original.notna() & parsed.isna()
    for index, value in original[bad].items():
        reasons[cast(int, index)].append(rules.Problem(name, rules.NOT_PARSED[kind], str(value)))


def _number(name: str, original: pd.Series, parsed: pd.Series, reasons: Reasons) -> pd.Series:
    _note_unparsed(name, original, parsed, "numeric", reasons)
    infinite = np.isinf(parsed)
    for index, value in original[infinite].items():
        reasons[index].append(rules.Problem(name, rules.INFINITE, str(value)))
    return parsed.where(~infinite)


def _type_columns(raw: pd.DataFrame, schema: DatasetSchema, reasons: Reasons) -> pd.DataFrame:
    """The model-ready typed table; values that do not parse are recorded as reasons."""
    typed: dict[str, pd.Series] = {}
    for name in schema.datetime_columns:
        original = raw[name]
        parsed = parse_datetime(original, schema.datetime_formats.get(name))
        _note_unparsed(name, original, parsed, "datetime", reasons)
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
            _note_unparsed(column.name, original, parsed, "boolean", reasons)
            typed[column.name] = parsed
        else:
            typed[column.name] = _number(column.name, original, parse_numeric(original), reasons)

    name = schema.target.name
    target = raw[name]
    for index in target.index[target.isna()]:
        reasons[index].append(rules.Problem(name, rules.TARGET_MISSING))
    if schema.target.task == "classification":
        typed[name] = as_text(target)
    else:
        typed[name] = _number(name, target, parse_numeric(target), reasons)

    frame = pd.DataFrame(typed, index=raw.index)
    return frame[[*schema.feature_names, name]]


def _missing_policy_reasons(raw: pd.DataFrame, policy: dict[str, str], reasons: Reasons) -> None:
    for name, rule in policy.items():
        if rule == "drop":
            for index in raw.index[raw[name].isna()]:
                reasons[index].append(rules.Problem(name, rules.MISSING_DROPPED))


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
            check = rules.check_name(str(case.check))
            reasons[int(case.index)].append(rules.Problem(str(case.column), check, str(case.failure_case)))
        table_level = cases[cases["index"].isna()]
        if not table_level.empty:
            problems = "; ".join(f"{c.column}: {c.check}" for c in table_level.itertuples(index=False))
            raise DataError(
                f"the cleaned table does not match its schema ({problems}); this is a bug in the "
                "clean stage or a column pinned to the wrong kind in params.yaml."
            ) from errors


def _duplicate_reasons(raw: pd.DataFrame, first_row: int, reasons: Reasons) -> None:
    """Mark rows identical (in every raw column) to an earlier row, naming that row."""
    duplicated = raw.duplicated(keep="first")
    if not duplicated.any():
        return
    hashes = pd.util.hash_pandas_object(raw, index=False)
    first_seen = {h: cast(int, i) for i, h in reversed(list(hashes.items()))}
    for index in raw.index[duplicated]:
        reasons[index].append(
            rules.Problem(
                None, rules.DUPLICATE, f"{rules.EARLIER_ROW}{first_seen[hashes[index]] + first_row}"
            )
        )


def _tally(
    raw: pd.DataFrame,
    clean: pd.DataFrame,
    quarantine: pd.DataFrame,
    problems: list[rules.Problem],
    schema: DatasetSchema,
) -> rules.Tally:
    """The counts the shared rules need, from the pandas engine's frames."""
    target = schema.target
    classes = clean[target.name].value_counts().to_dict() if target.task == "classification" else {}
    return rules.Tally(
        rows_in=len(raw),
        rows_clean=len(clean),
        rows_quarantined=len(quarantine),
        reason_counts=Counter(problem.key for problem in problems),
        missing_values={str(name): int(count) for name, count in raw.isna().sum().items()},
        class_counts={str(label): int(count) for label, count in classes.items()},
        levels={name: clean[name].dropna().unique().tolist() for name in schema.categorical},
    )


def clean_table(raw: pd.DataFrame, data: DataParams, clean: CleanParams, split: SplitParams) -> CleanResult:
    """Validate `raw` and split it into clean rows and quarantined rows (pure: no files)."""
    first_row = int(raw.attrs.get("first_data_row", 2))
    schema = infer_schema(raw, data, clean)
    raw = raw.reset_index(drop=True)
    reasons: Reasons = defaultdict(list)
    typed = _type_columns(raw, schema, reasons)
    policy = rules.missing_policy(schema, clean)
    _missing_policy_reasons(raw, policy, reasons)
    _pandera_reasons(typed, schema, reasons)
    if clean.drop_duplicates:
        _duplicate_reasons(raw, first_row, reasons)

    rejected = [i for i in typed.index if reasons[i]]
    clean_frame = typed.drop(index=rejected).reset_index(drop=True)
    quarantine = raw.loc[rejected].copy()
    quarantine.insert(0, rules.ROW_COLUMN, [i + first_row for i in rejected])
    quarantine[rules.REASON_COLUMN] = ["; ".join(map(str, reasons[i])) for i in rejected]

    problems = [problem for i in rejected for problem in reasons[i]]
    tally = _tally(raw, clean_frame, quarantine, problems, schema)
    schema, quality = rules.conclude(tally, schema, clean, split)
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
    rules.write_quality(paths.data_quality, result.quality)
    return result.quality
