"""The training reference that drift is measured against, saved at train time as `models/reference.json`.

A profile per feature, not the training set: quantile bin edges and shares (for PSI), a sorted
sample of at most SAMPLE_SIZE values (for the KS test), the share of missing values and the
plausible range cleaning inferred. The predicted classes (or predicted values) of the served model
on the test split are profiled the same way, so a change in what the model answers is caught too.
The file is a few kilobytes whatever the size of the data, and it is versioned with the model it
describes (the train stage's `models/` output).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..artifacts import RETRAIN, Column, ModelCardError

if TYPE_CHECKING:
    import pandas as pd

# Enough points for the KS test's statistic to be within 1/SAMPLE_SIZE of the full training set's.
SAMPLE_SIZE = 1000


class _Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int = Field(ge=0, description="non-missing training values")
    missing: float = Field(ge=0, le=1, description="share of missing values")


class NumericProfile(_Profile):
    """A number: values in bins (-inf, e0], (e0, e1], ..., (e_last, inf) cut at training quantiles."""

    kind: Literal["numeric"] = "numeric"
    edges: list[float]
    shares: list[float]
    sample: list[float]  # sorted; every training value, or SAMPLE_SIZE evenly spaced quantiles
    minimum: float | None = None  # the plausible range (the API refuses values outside it)
    maximum: float | None = None
    mean: float
    std: float

    def bin_shares(self, values: np.ndarray) -> np.ndarray:
        """The share of `values` (no NaN) in each of this profile's bins."""
        counts = np.bincount(np.searchsorted(self.edges, values, side="left"), minlength=len(self.shares))
        return counts / max(len(values), 1)


class CategoricalProfile(_Profile):
    """A category (or a boolean, as "true"/"false"): the share of each value seen in training."""

    kind: Literal["categorical"] = "categorical"
    shares: dict[str, float]
    boolean: bool = False  # window values are read as cleaning reads booleans (yes/no, 1/0, ...)

    def labels(self, values: pd.Series) -> pd.Series:
        """The non-missing values of a window column as this profile's category labels."""
        if self.boolean:
            from ..data.schema import parse_boolean

            values = parse_boolean(values)
        return values.dropna().map(category_label)


Profile = Annotated[NumericProfile | CategoricalProfile, Field(discriminator="kind")]


class Reference(BaseModel):
    """models/reference.json: one profile per feature and one of the predictions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    version: str | None = None
    rows: int
    features: dict[str, Profile]
    prediction: Profile


def numeric_profile(values: np.ndarray, bins: int, column: Column | None = None) -> NumericProfile:
    """The profile of a numeric column (NaN counts as missing) cut into `bins` quantile bins.

    Edges are the training quantiles, deduplicated, so a column with few distinct values gets fewer,
    wider bins instead of empty ones.
    """
    values = np.asarray(values, dtype=np.float64)
    present = np.sort(values[~np.isnan(values)])
    if len(present) == 0:
        raise ValueError(f"column {column.name if column else '?'} has no values to profile")
    inner = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])
    edges = [float(e) for e in np.unique(inner)]
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1)
    if len(present) > SAMPLE_SIZE:
        sample = np.quantile(present, (np.arange(SAMPLE_SIZE) + 0.5) / SAMPLE_SIZE)
    else:
        sample = present
    return NumericProfile(
        rows=len(present),
        missing=(len(values) - len(present)) / len(values),
        edges=edges,
        shares=[float(c) for c in counts / len(present)],
        sample=[float(v) for v in sample],
        minimum=column.minimum if column else None,
        maximum=column.maximum if column else None,
        mean=float(present.mean()),
        std=float(present.std()),
    )


def categorical_profile(values: pd.Series, boolean: bool = False) -> CategoricalProfile:
    """The share of each category among the non-missing values of a column."""
    present = values.dropna().map(category_label)
    shares = present.value_counts(normalize=True, sort=False)
    return CategoricalProfile(
        rows=len(present),
        missing=(len(values) - len(present)) / len(values) if len(values) else 0.0,
        shares={str(k): float(v) for k, v in sorted(shares.items())},
        boolean=boolean,
    )


def category_label(value: object) -> str:
    """The label a category is counted under: booleans (and their 0/1 forms) as "true"/"false"."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return "true" if value else "false"
    return str(value)


def build_reference(
    frame: pd.DataFrame,
    features: list[Column],
    predictions: pd.Series,
    classification: bool,
    bins: int,
    model: str,
    version: str | None,
) -> Reference:
    """The reference of the training split `frame` and the served model's test-split `predictions`."""
    profiles: dict[str, NumericProfile | CategoricalProfile] = {}
    for column in features:
        if column.kind == "numeric":
            profiles[column.name] = numeric_profile(frame[column.name].to_numpy(np.float64), bins, column)
        else:
            profiles[column.name] = categorical_profile(frame[column.name], column.kind == "boolean")
    prediction: NumericProfile | CategoricalProfile = (
        categorical_profile(predictions)
        if classification
        else numeric_profile(predictions.to_numpy(np.float64), bins)
    )
    return Reference(model=model, version=version, rows=len(frame), features=profiles, prediction=prediction)


def write_reference(path: Path, reference: Reference) -> None:
    """Write the reference as indented JSON (small, and readable in a diff)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(reference.model_dump_json(indent=1) + "\n", encoding="utf-8")


def read_reference(path: Path) -> Reference:
    """models/reference.json, validated; a missing or outdated file says how to write it again."""
    try:
        return Reference.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise ModelCardError(
            f"{path} not found: it is written with the model by the train stage; {RETRAIN}"
        ) from None
    except ValidationError as exc:
        raise ModelCardError(f"{path} does not match this version of the project ({exc}); {RETRAIN}") from exc
