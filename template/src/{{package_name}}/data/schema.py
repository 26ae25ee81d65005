"""The dataset schema: inferred once from the raw data, then reused everywhere.

Cleaning validates rows against it (through pandera), features build the ColumnTransformer from
it, and the API derives its request model from it. It is written to `data/interim/schema.json`;
`params.yaml` (`clean.column_types`, `clean.drop_columns`) pins what inference gets wrong.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from ..config import CleanParams, DataParams

log = logging.getLogger(__name__)

FeatureKind = Literal["numeric", "categorical", "boolean"]
TRUE_TOKENS = frozenset({"true", "t", "yes", "y"})
FALSE_TOKENS = frozenset({"false", "f", "no", "n"})
ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key|index)$|^(id|uuid|guid)(_|$)", re.IGNORECASE)
DATETIME_PARTS = ("year", "month", "day", "dayofweek")


class Column(BaseModel):
    """One model input column, after cleaning."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: FeatureKind
    nullable: bool = True
    categories: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    derived_from: str | None = None


class Target(BaseModel):
    """The column to predict."""

    model_config = ConfigDict(frozen=True)

    name: str
    task: Literal["classification", "regression"]
    classes: list[str] | None = None


class DatasetSchema(BaseModel):
    """What the cleaned table looks like: features, target and what was dropped, with reasons."""

    model_config = ConfigDict(frozen=True)

    features: list[Column]
    target: Target
    dropped: dict[str, str] = {}
    datetime_columns: list[str] = []

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


def _as_str(series: pd.Series) -> pd.Series:
    """Values as trimmed strings, missing values kept missing (pandas 3 `str` dtype)."""
    return series.astype("str").str.strip().where(series.notna())


def parse_numeric(series: pd.Series) -> pd.Series:
    """Numbers from a column that may hold them as text ('1,5' is not guessed; '1.5' is)."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    if pd.api.types.is_numeric_dtype(series):
        return series.astype("float64")
    return pd.to_numeric(_as_str(series), errors="coerce").astype("float64")


def parse_boolean(series: pd.Series) -> pd.Series:
    """1.0/0.0 for true/false tokens (true/yes/y/t/1 and false/no/n/f/0), NaN otherwise."""
    if pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    text = _as_str(series).str.lower()
    mapped = text.map(
        lambda v: (
            1.0
            if v in TRUE_TOKENS or v in ("1", "1.0")
            else 0.0
            if v in FALSE_TOKENS or v in ("0", "0.0")
            else np.nan
        )
    )
    return mapped.astype("float64")


def _looks_boolean(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return True
    tokens = set(_as_str(values.dropna()).str.lower().unique())
    return (
        0 < len(tokens) <= 2
        and tokens <= (TRUE_TOKENS | FALSE_TOKENS | {"0", "1", "0.0", "1.0"})
        and not tokens <= {"0", "1", "0.0", "1.0"}
    )


def _looks_datetime(values: pd.Series) -> bool:
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    if not pd.api.types.is_string_dtype(values):
        return False
    sample = _as_str(values.dropna()).head(200)
    if sample.empty or not sample.str.contains(r"\d{1,4}[-/.:]\d{1,2}", regex=True).all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


def _looks_id(name: str, values: pd.Series, clean: CleanParams) -> bool:
    non_null = values.dropna()
    if len(non_null) < 10:
        return False
    unique_ratio = non_null.nunique() / len(non_null)
    if ID_NAME.search(name) and unique_ratio >= clean.id_unique_ratio:
        return True
    if pd.api.types.is_string_dtype(values) and unique_ratio >= clean.id_unique_ratio:
        return True  # free text or codes: one value per row carries nothing to learn from
    if pd.api.types.is_integer_dtype(values) and unique_ratio == 1.0:
        ordered = np.sort(non_null.to_numpy())
        return bool(len(ordered) > 1 and np.all(np.diff(ordered) == 1))  # a running counter
    return False


def _numeric_range(values: pd.Series, margin: float) -> tuple[float | None, float | None]:
    finite = values[np.isfinite(values)]
    if finite.empty:
        return None, None
    low, high = float(finite.quantile(0.01)), float(finite.quantile(0.99))
    spread = max(high - low, abs(high) * 0.1, 1e-9)
    lo, hi = low - margin * spread, high + margin * spread
    # Never cut off values that are all on one side of zero (counts, prices, ages).
    if float(finite.min()) >= 0:
        lo = max(lo, 0.0)
    return lo, hi


def infer_kind(name: str, values: pd.Series, clean: CleanParams) -> str:
    """numeric, categorical, boolean, datetime, id or drop for one raw column."""
    if name in clean.drop_columns:
        return "drop"
    if name in clean.column_types:
        return clean.column_types[name]
    non_null = values.dropna()
    if non_null.empty:
        return "drop"
    if _looks_boolean(values):
        return "boolean"
    if _looks_id(name, values, clean):
        return "id"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if _looks_datetime(values):
        return "datetime"
    numeric_share = parse_numeric(non_null).notna().mean()
    if numeric_share >= clean.numeric_parse_ratio:
        return "numeric"  # numbers with a few typos; the typos are quarantined by cleaning
    return "categorical"


def infer_schema(frame: pd.DataFrame, data: DataParams, clean: CleanParams) -> DatasetSchema:
    """Infer the schema of a raw table. Raises DataError-style ValueError for target problems."""
    from .io import DataError

    if data.target not in frame.columns:
        raise DataError(
            f"target column '{data.target}' not found; the columns are: {', '.join(map(str, frame.columns))}. "
            "Set data.target in params.yaml to one of them."
        )
    target_values = frame[data.target].dropna()
    if target_values.nunique() < 2:
        raise DataError(
            f"target column '{data.target}' has {target_values.nunique()} distinct value(s); a model "
            "needs at least two. Check the file, or choose another data.target."
        )
    classes = None
    if data.task == "classification":
        classes = sorted(_as_str(target_values).unique().tolist())
        if len(classes) > 100:
            raise DataError(
                f"target '{data.target}' has {len(classes)} classes; that looks like a number to "
                "predict. Set data.task to 'regression' in params.yaml."
            )
    elif parse_numeric(target_values).notna().mean() < clean.numeric_parse_ratio:
        raise DataError(
            f"target '{data.target}' is not numeric, so it cannot be a regression target; "
            "set data.task to 'classification' in params.yaml."
        )

    features: list[Column] = []
    dropped: dict[str, str] = {}
    datetime_columns: list[str] = []
    for name in frame.columns:
        if name == data.target:
            continue
        values = frame[name]
        kind = infer_kind(name, values, clean)
        nullable = clean.missing.get(name, clean.missing_default) == "impute"
        if kind == "drop":
            dropped[name] = (
                "dropped by params.yaml"
                if name in clean.drop_columns or name in clean.column_types
                else "no values"
            )
        elif kind == "id":
            dropped[name] = "identifier-like (a distinct value on almost every row)"
        elif kind == "datetime":
            datetime_columns.append(name)
            for part in DATETIME_PARTS:
                features.append(
                    Column(
                        name=f"{name}_{part}",
                        kind="numeric",
                        nullable=nullable,
                        integer=True,
                        derived_from=name,
                    )
                )
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
            categories = _as_str(values.dropna()).unique().tolist()
            if len(categories) > clean.max_categories:
                dropped[name] = (
                    f"{len(categories)} distinct values (more than clean.max_categories="
                    f"{clean.max_categories}); pin its type in params.yaml to keep it"
                )
                continue
            features.append(
                Column(name=name, kind="categorical", nullable=nullable, categories=sorted(categories))
            )
    for name, reason in dropped.items():
        log.info("dropping column '%s': %s", name, reason)
    if not features:
        raise DataError(
            "no usable feature columns are left after inference; pin column types with "
            "clean.column_types in params.yaml."
        )
    return DatasetSchema(
        features=features,
        target=Target(name=data.target, task=data.task, classes=classes),
        dropped=dropped,
        datetime_columns=datetime_columns,
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
            checks.append(pa.Check.isin(column.categories, error="category not seen in training data"))
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
        target_checks.append(pa.Check.isin(schema.target.classes))
    columns[schema.target.name] = pa.Column(target_dtype, checks=target_checks, nullable=False)
    return pa.DataFrameSchema(columns, strict=True, ordered=False)
