"""Request and response models, generated from the feature schema in `models/model.json`.

Types, categories (as enums), plausible ranges and nullability all come from the schema that
cleaning inferred, so the API refuses exactly what the model was never trained on. This module
needs only pydantic: no pandas, no scikit-learn.
"""

from __future__ import annotations

import keyword
import math
import re
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model


def _field_name(column: str, index: int) -> str:
    """A Python-safe attribute name for a column; the column name itself stays the JSON key."""
    name = re.sub(r"\W", "_", column)
    if (
        not name.isidentifier()
        or keyword.iskeyword(name)
        or name.startswith("_")
        or name in BaseModel.__dict__
    ):
        name = f"f{index}_{name}".strip("_")
    return name if name.isidentifier() else f"f{index}"


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _feature_field(feature: dict[str, Any], example: Any) -> tuple[Any, Any]:
    kind = feature["kind"]
    description = f"{kind} feature"
    extra: dict[str, Any] = {}
    if kind == "categorical":
        categories = feature.get("categories") or []
        annotation: Any = Enum(
            f"{feature['name']}_values", {f"v{i}": c for i, c in enumerate(categories)}, type=str
        )
        description = f"one of: {', '.join(categories)}"
    elif kind == "boolean":
        annotation = bool
    else:
        annotation = float
        low, high = _finite(feature.get("minimum")), _finite(feature.get("maximum"))
        if low is not None:
            extra["ge"] = low
        if high is not None:
            extra["le"] = high
        if low is not None and high is not None:
            description = f"number between {low:.6g} and {high:.6g}"
    if feature.get("derived_from"):
        description += f" (derived from date column '{feature['derived_from']}')"
    examples = [example] if example is not None else None
    if feature.get("nullable", True):
        return annotation | None, Field(
            default=None,
            alias=feature["name"],
            description=description + "; may be null",
            examples=examples,
            **extra,
        )
    return annotation, Field(alias=feature["name"], description=description, examples=examples, **extra)


def build_instance_model(features: list[dict[str, Any]], example: dict[str, Any]) -> type[BaseModel]:
    """A pydantic model for one instance: one field per feature, unknown fields forbidden."""
    fields = {
        _field_name(feature["name"], i): _feature_field(feature, example.get(feature["name"]))
        for i, feature in enumerate(features)
    }
    config = ConfigDict(
        extra="forbid", allow_inf_nan=False, populate_by_name=False, json_schema_extra={"examples": [example]}
    )
    return create_model("Instance", __config__=config, **fields)


def build_request_model(
    instance: type[BaseModel], max_batch: int, example: dict[str, Any]
) -> type[BaseModel]:
    """`{"instances": [...]}` with 1 to `max_batch` instances."""
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"instances": [example]}]})
    return create_model(
        "PredictRequest",
        __config__=config,
        instances=(
            list[instance],
            Field(min_length=1, max_length=max_batch, description=f"1 to {max_batch} rows to score"),
        ),
    )


def instance_values(instance: BaseModel) -> dict[str, Any]:
    """Column name -> plain value (enums unwrapped) for one validated instance."""
    values = instance.model_dump(by_alias=True)
    return {k: (v.value if isinstance(v, Enum) else v) for k, v in values.items()}


class PredictResponse(BaseModel):
    """Predictions in request order, with class probabilities for classifiers."""

    predictions: list[str] | list[float]
    probabilities: list[dict[str, float]] | None = None
    model: str
    version: str | None = None


class ModelInfo(BaseModel):
    """What `GET /model` returns."""

    name: str
    version: str | None
    task: Literal["classification", "regression"]
    model_family: str
    trained_at: str
    backend: str
    target: dict[str, Any]
    classes: list[str] | None
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    features: list[dict[str, Any]]
    example: dict[str, Any]
