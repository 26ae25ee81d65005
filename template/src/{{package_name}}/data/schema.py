"""The dataset schema: inferred once from the raw data, then reused everywhere.

Cleaning validates rows against it (through pandera), features build the ColumnTransformer from
it, and the API derives its request model from it. It is written to `data/interim/schema.json`;
`params.yaml` (`clean.column_types`, `clean.drop_columns`, `clean.datetime_formats`) pins what
inference gets wrong.

The raw table arrives as text (see `io.read_csv`), so every decision below is made on the values as
they were written: '02139' is a zip code, not the number 2139.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from ..artifacts import Column, Target
from ..config import CleanParams, DataParams
from .io import DataError
from .rules import check_class_count, too_many_categories

log = logging.getLogger(__name__)

TRUE_TOKENS = frozenset({"true", "t", "yes", "y"})
FALSE_TOKENS = frozenset({"false", "f", "no", "n"})
BINARY_DIGITS = frozenset({"0", "1", "0.0", "1.0"})
# What a boolean column's values mean, in lower case (`parse_boolean`; the Spark engine too).
TRUE_VALUES = TRUE_TOKENS | {"1", "1.0"}
FALSE_VALUES = FALSE_TOKENS | {"0", "0.0"}
ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key|index)$|^(id|uuid|guid)(_|$)", re.IGNORECASE)
# Integers that name things rather than count them: one-hot them, never scale them.
CODE_NAME = re.compile(r"zip|postcode|postal|fips|(^|_)(code|area_?code)$", re.IGNORECASE)
DATETIME_PARTS = ("year", "month", "day", "dayofweek")
# The valid range of each date part (the year's comes from the data).
PART_RANGES = {"month": (1.0, 12.0), "day": (1.0, 31.0), "dayofweek": (0.0, 6.0), "hour": (0.0, 23.0)}
DATE_LIKE = re.compile(
    r"\d{1,4}[-/.]\d{1,2}|\d{1,2}:\d{2}|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b",
    re.IGNORECASE,
)
DATETIME_SHARE = 0.95
SAMPLE_ROWS = 500
LONG_TAIL_RATIO = 5.0
# How numbers are written in the wild, and what is removed or replaced before they are parsed.
CURRENCY = re.compile(r"^([+-]?)\s*[$€£¥]\s*")  # a leading currency sign (the number's sign stays)
PERCENT = re.compile(r"\s*%$")
UNIT_SIGNS = "$€£¥%"  # a value without any of these has no currency or percent sign to remove
THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")
COMMA_MEANS = {"thousands": "", "decimal": "."}  # what a comma is replaced with, by separator rule


class DatasetSchema(BaseModel):
    """What the cleaned table looks like: features, target and what was dropped, with reasons."""

    model_config = ConfigDict(frozen=True)

    features: list[Column]
    target: Target
    dropped: dict[str, str] = {}
    datetime_columns: list[str] = []
    # How each datetime column is parsed: a strptime format, or None for "any format pandas reads".
    datetime_formats: dict[str, str | None] = {}
    # Each raw column's kind and why it was chosen (for people reading schema.json).
    inference: dict[str, str] = {}

    @property
    def numeric(self) -> list[str]:
        """Columns the model sees as numbers (booleans are 0/1 numbers)."""
        return [c.name for c in self.features if c.kind in ("numeric", "boolean")]

    @property
    def categorical(self) -> list[str]:
        return [c.name for c in self.features if c.kind == "categorical"]

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]

    def column(self, name: str) -> Column:
        return next(c for c in self.features if c.name == name)

    def derived(self, source: str) -> list[Column]:
        """The features computed from datetime column `source`."""
        return [c for c in self.features if c.derived_from == source]


def as_text(series: pd.Series) -> pd.Series:
    """Values as trimmed strings, missing values kept missing (pandas 3 `str` dtype)."""
    return series.astype("str").str.strip().where(series.notna())


def separator_rule(
    commas: int | None, not_thousands: int | None, not_decimal: int | None, dots: int | None
) -> str:
    """What a comma means in a column of number text: 'thousands', 'decimal' or 'none' (leave it).

    Decided per column, from counts over its values (so both engines decide alike): '1,234' is a
    thousands separator when every value with a comma is grouped in threes; '1,5' is a decimal
    comma when every value with a comma looks so and no value in the column has a '.'.
    """
    if not commas:
        return "none"
    if not not_thousands:
        return "thousands"
    if not not_decimal and not dots:
        return "decimal"
    return "none"


def _number_text(text: pd.Series) -> pd.Series:
    """Number-like text made parseable: currency signs, '%', thousands separators, decimal commas."""
    text = text.str.replace(CURRENCY.pattern, r"\1", regex=True).str.replace(PERCENT.pattern, "", regex=True)
    comma = text.str.contains(",", regex=False, na=False)
    with_comma = text[comma]
    rule = separator_rule(
        int(comma.sum()),
        int((~with_comma.str.fullmatch(THOUSANDS.pattern)).sum()),
        int((~with_comma.str.fullmatch(DECIMAL_COMMA.pattern)).sum()),
        int(text.str.contains(".", regex=False, na=False).sum()),
    )
    return text if rule == "none" else text.str.replace(",", COMMA_MEANS[rule], regex=False)


def parse_numeric(series: pd.Series) -> pd.Series:
    """float64 numbers from a column of text or numbers; values that are not numbers become NaN."""
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    return pd.to_numeric(_number_text(as_text(series)), errors="coerce").astype("float64")


def parse_boolean(series: pd.Series) -> pd.Series:
    """1.0/0.0 for true/false tokens (true/yes/y/t/1 and false/no/n/f/0), NaN otherwise."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    text = as_text(series).str.lower()
    truth = {**dict.fromkeys(TRUE_VALUES, 1.0), **dict.fromkeys(FALSE_VALUES, 0.0)}
    return text.map(truth).astype("float64")


def parse_datetime(series: pd.Series, fmt: str | None) -> pd.Series:
    """UTC timestamps from text in format `fmt` (None: any format pandas reads); NaT if unparseable."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return pd.to_datetime(series, utc=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pd.to_datetime(as_text(series), format=fmt or "mixed", errors="coerce", utc=True)


def datetime_format(values: pd.Series) -> tuple[str | None, float]:
    """The strptime format that parses most of `values` (None = mixed formats) and its share parsed.

    Month-first and day-first readings are both tried on a sample; the one that parses more rows
    wins, and month-first wins a tie. Pin it with clean.datetime_formats when the data is ambiguous.
    """
    from pandas.tseries.api import guess_datetime_format

    sample = as_text(values.dropna()).head(SAMPLE_ROWS)
    if sample.empty or sample.map(lambda text: bool(DATE_LIKE.search(text))).mean() < DATETIME_SHARE:
        return None, 0.0
    best: tuple[str | None, float] = (None, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for dayfirst in (False, True):
            fmt = guess_datetime_format(sample.iloc[0], dayfirst=dayfirst)
            if fmt is None or fmt == best[0]:
                continue
            share = float(parse_datetime(sample, fmt).notna().mean())
            if share > best[1]:
                best = (fmt, share)
    if best[1] >= DATETIME_SHARE:
        return best
    return None, float(parse_datetime(sample, None).notna().mean())


def _looks_boolean(values: pd.Series) -> bool:
    tokens = set(as_text(values.dropna()).str.lower().unique())
    return (
        0 < len(tokens) <= 2
        and tokens <= (TRUE_TOKENS | FALSE_TOKENS | BINARY_DIGITS)
        and not tokens <= BINARY_DIGITS
    )


def _numeric_range(values: pd.Series, margin: float) -> tuple[float | None, float | None]:
    """The plausible range of a numeric column: its 1st-99th percentiles widened by `margin` spreads.

    A long right tail (incomes, prices, counts) is widened on a log scale instead, so the real large
    values of a skewed column are not mistaken for typos. A column with no negative value never
    accepts one.
    """
    finite = values[np.isfinite(values)]
    if finite.empty:
        return None, None
    low, mid, high = (float(q) for q in finite.quantile([0.01, 0.5, 0.99]))
    non_negative = float(finite.min()) >= 0
    if non_negative and high - mid > LONG_TAIL_RATIO * max(mid - low, 1e-12):
        _, log_mid, log_high = np.log1p([low, mid, high])
        upper = float(np.expm1(log_high + margin * max(log_high - log_mid, 1e-9)))
        return 0.0, upper
    spread = max(high - low, abs(high) * 0.1, 1e-9)
    lo, hi = low - margin * spread, high + margin * spread
    return (max(lo, 0.0) if non_negative else lo), hi


def _share_example(values: pd.Series, parsed: pd.Series) -> tuple[float, list[str]]:
    present = values.notna()
    bad = present & parsed.isna()
    share = float(1 - bad.sum() / max(int(present.sum()), 1))
    return share, [str(v) for v in values[bad].drop_duplicates().head(3)]


def infer_kind(name: str, values: pd.Series, clean: CleanParams) -> tuple[str, str]:
    """numeric, categorical, boolean, datetime, id or drop for one raw column, and why."""
    if name in clean.drop_columns:
        return "drop", "listed in clean.drop_columns"
    if name in clean.column_types:
        kind = clean.column_types[name]
        return kind, f"pinned as {kind} in clean.column_types"
    non_null = values.dropna()
    if non_null.empty:
        return "drop", "no values: every row is empty"
    text = as_text(non_null)
    distinct = text.nunique()
    if distinct == 1:
        if len(non_null) == len(values):
            return "drop", f"a single value ('{text.iloc[0]}') on every row: nothing to learn from"
        return "categorical", "one value or empty: whether it is present is what the model can use"
    if _looks_boolean(non_null):
        return "boolean", "two yes/no-like values"
    unique_ratio = distinct / len(non_null)
    numbers = parse_numeric(non_null)
    if numbers.notna().mean() >= clean.numeric_parse_ratio:
        parsed = numbers.dropna()
        integer_like = bool((parsed == parsed.round()).all())
        if text.str.fullmatch(r"0\d+").any():
            return "categorical", "integer codes with leading zeros (such as zip codes)"
        if integer_like and CODE_NAME.search(name):
            return "categorical", "integer codes (the name says it is a code)"
        if len(non_null) >= 10 and integer_like and unique_ratio >= clean.id_unique_ratio:
            ordered = np.sort(parsed.to_numpy())
            if ID_NAME.search(name) or (unique_ratio == 1.0 and np.all(np.diff(ordered) == 1)):
                return "id", "identifier-like: a distinct integer on every row"
        share = numbers.notna().mean()
        return "numeric", "numbers" if share == 1 else f"numbers ({100 * (1 - share):.1f} percent are not)"
    if name in clean.datetime_formats or datetime_format(non_null)[1] >= DATETIME_SHARE:
        return "datetime", "dates/times"
    if len(non_null) >= 10 and unique_ratio >= clean.id_unique_ratio:
        return "id", "identifier-like: a distinct value on almost every row (an identifier or free text)"
    return "categorical", "text with repeated values"


def _check_params_columns(frame: pd.DataFrame, data: DataParams, clean: CleanParams) -> None:
    columns = set(frame.columns)
    for key, names in (
        ("clean.column_types", clean.column_types),
        ("clean.drop_columns", clean.drop_columns),
        ("clean.missing", clean.missing),
        ("clean.datetime_formats", clean.datetime_formats),
    ):
        unknown = [name for name in names if name not in columns]
        if unknown:
            raise DataError(
                f"{key} in params.yaml names column(s) {', '.join(map(repr, unknown))} that the data does "
                f"not have; the columns are: {', '.join(frame.columns)}."
            )
        if data.target in names and key != "clean.missing":
            raise DataError(
                f"{key} in params.yaml lists the target '{data.target}'; the target's type comes "
                "from data.task. Remove it from that list."
            )


def _check_pinned(name: str, kind: str, values: pd.Series, clean: CleanParams) -> str | None:
    """For a pinned column, the datetime format; raises DataError if most values do not fit the kind."""
    fmt = None
    if kind == "numeric":
        parsed = parse_numeric(values)
    elif kind == "boolean":
        parsed = parse_boolean(values)
    elif kind == "datetime":
        fmt = clean.datetime_formats.get(name) or datetime_format(values.dropna())[0]
        parsed = parse_datetime(values, fmt)
    else:
        return None
    share, examples = _share_example(values, parsed)
    if share < clean.numeric_parse_ratio:
        raise DataError(
            f"column '{name}' is {kind} by params.yaml, but {100 * (1 - share):.0f} percent of its values are not "
            f"(e.g. {', '.join(map(repr, examples))}). Fix those values in the file, or change or remove "
            f"'{name}' in clean.column_types."
        )
    return fmt


def _check_target(frame: pd.DataFrame, data: DataParams, clean: CleanParams) -> list[str] | None:
    if data.target not in frame.columns:
        raise DataError(
            f"target column '{data.target}' not found; the columns are: {', '.join(map(str, frame.columns))}. "
            "Set data.target in params.yaml to one of them."
        )
    values = as_text(frame[data.target].dropna())
    if values.nunique() < 2:
        found = f" ('{values.iloc[0]}')" if len(values) else ""
        raise DataError(
            f"target column '{data.target}' has {values.nunique()} distinct value(s){found}; a model "
            "needs at least two. Check the file, or choose another data.target in params.yaml."
        )
    if data.task == "classification":
        classes = sorted(values.unique().tolist())
        check_class_count(data.target, len(classes))
        return classes
    share, examples = _share_example(values, parse_numeric(values))
    if share < clean.numeric_parse_ratio:
        raise DataError(
            f"target '{data.target}' is not numeric (e.g. {', '.join(map(repr, examples))}), so it "
            "cannot be a regression target; set data.task to 'classification' in params.yaml."
        )
    return None


def infer_schema(frame: pd.DataFrame, data: DataParams, clean: CleanParams) -> DatasetSchema:
    """Infer the schema of a raw table; raises DataError for target and params problems."""
    classes = _check_target(frame, data, clean)
    _check_params_columns(frame, data, clean)

    features: list[Column] = []
    dropped: dict[str, str] = {}
    inference: dict[str, str] = {}
    datetime_formats: dict[str, str | None] = {}
    too_wide: dict[str, str] = {}
    for name in frame.columns:
        if name == data.target:
            continue
        values = frame[name]
        kind, why = infer_kind(name, values, clean)
        inference[name] = f"{kind}: {why}"
        pinned = name in clean.column_types or name in clean.datetime_formats
        fmt = _check_pinned(name, kind, values, clean) if pinned else None
        nullable = clean.missing.get(name, clean.missing_default) == "impute"
        if kind in ("drop", "id"):
            dropped[name] = why
        elif kind == "datetime":
            fmt = clean.datetime_formats.get(name) or fmt or datetime_format(values.dropna())[0]
            parsed = parse_datetime(values, fmt)
            datetime_formats[name] = fmt
            parts = list(DATETIME_PARTS)
            if (parsed.dropna().dt.hour != 0).any():
                parts.append("hour")
            years = parsed.dropna().dt.year
            margin = max(1.0, clean.range_margin * float(years.max() - years.min()))
            ranges = {"year": (float(years.min()) - margin, float(years.max()) + margin), **PART_RANGES}
            features += [
                Column(
                    name=f"{name}_{part}",
                    kind="numeric",
                    nullable=nullable,
                    minimum=ranges[part][0],
                    maximum=ranges[part][1],
                    integer=True,
                    derived_from=name,
                )
                for part in parts
            ]
        elif kind == "boolean":
            features.append(
                Column(name=name, kind="boolean", nullable=nullable, minimum=0.0, maximum=1.0, integer=True)
            )
        elif kind == "numeric":
            numbers = parse_numeric(values)
            lo, hi = _numeric_range(numbers.dropna(), clean.range_margin)
            finite = numbers[np.isfinite(numbers)]
            integer = bool(len(finite) and (finite == finite.round()).all())
            features.append(
                Column(name=name, kind="numeric", nullable=nullable, minimum=lo, maximum=hi, integer=integer)
            )
        else:
            categories = sorted(as_text(values.dropna()).unique().tolist())
            if reason := too_many_categories(name, len(categories), clean):
                too_wide[name] = reason
            features.append(Column(name=name, kind="categorical", nullable=nullable, categories=categories))
    for name, reason in dropped.items():
        log.info("dropping column '%s': %s", name, reason)
    schema = DatasetSchema(
        features=features,
        target=Target(name=data.target, task=data.task, classes=classes),
        dropped=dropped,
        datetime_columns=list(datetime_formats),
        datetime_formats=datetime_formats,
        inference=inference,
    )
    schema = drop_features(schema, too_wide)
    if not schema.features:
        raise DataError(
            "no usable feature columns are left after inference "
            f"({'; '.join(f'{k}: {v}' for k, v in schema.dropped.items()) or 'the file has only the target'}); "
            "pin column types with clean.column_types in params.yaml."
        )
    return schema


def drop_features(schema: DatasetSchema, reasons: dict[str, str]) -> DatasetSchema:
    """`schema` without the features named in `reasons`, each recorded as dropped, with its reason."""
    for name, reason in reasons.items():
        log.info("dropping column '%s': %s", name, reason)
    return schema.model_copy(
        update={
            "features": [c for c in schema.features if c.name not in reasons],
            "dropped": {**schema.dropped, **reasons},
            "inference": {**schema.inference, **{name: f"drop: {why}" for name, why in reasons.items()}},
        }
    )


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def build_pandera_schema(schema: DatasetSchema) -> Any:
    """The pandera DataFrameSchema that a clean table must satisfy (types, nulls, categories, ranges)."""
    import pandera.pandas as pa

    columns: dict[str, Any] = {}
    for column in schema.features:
        checks = []
        if column.kind == "categorical" and column.categories:
            checks.append(pa.Check.isin(column.categories, error="not one of the known categories"))
        else:
            low, high = _finite_or_none(column.minimum), _finite_or_none(column.maximum)
            if low is not None:
                checks.append(pa.Check.ge(low, error=f"below the plausible minimum {low:.6g}"))
            if high is not None:
                checks.append(pa.Check.le(high, error=f"above the plausible maximum {high:.6g}"))
        dtype = "str" if column.kind == "categorical" else "float64"
        columns[column.name] = pa.Column(dtype, checks=checks, nullable=column.nullable, coerce=False)
    target_dtype = "str" if schema.target.task == "classification" else "float64"
    target_checks = []
    if schema.target.classes:
        target_checks.append(pa.Check.isin(schema.target.classes, error="not one of the known classes"))
    columns[schema.target.name] = pa.Column(target_dtype, checks=target_checks, nullable=False)
    return pa.DataFrameSchema(columns, strict=True, ordered=False)
