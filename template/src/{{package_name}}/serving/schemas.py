"""Request and response models, generated from the feature schema in `models/model.json`.

Types, categories (as enums), plausible ranges and nullability all come from the schema that
cleaning inferred, so the API refuses exactly what the model was never trained on. This module
needs only pydantic: no pandas, no scikit-learn.

A request is either one instance, `{"instance": <row>}`, or a batch, `{"instances": [<row>, ...]}`,
where a row maps feature names to values; the response has the same shape for both: lists in
request order.
"""

from __future__ import annotations

import keyword
import math
import re
from typing import Annotated, Any, Literal

from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    create_model,
)

from ..artifacts import Column, JsonScalar, Target

SINGLE, BATCH = "instance", "instances"


def shape_hint(max_batch: int, markdown: bool = False) -> str:
    """What a request looks like, in words: for the API description and for a 422 on a wrong shape."""
    quote = "`" if markdown else ""
    one = quote + '{"instance": <row>}' + quote
    many = quote + '{"instances": [<row>, ...]}' + quote
    return (
        f"send one row as {one} or up to {max_batch} rows as {many}, where a row maps feature names to values"
    )


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


def _feature_field(feature: Column, example: Any) -> tuple[Any, Any]:
    kind = feature.kind
    description = f"{kind} feature"
    extra: dict[str, Any] = {}
    categories = feature.categories or []
    if kind == "categorical" and categories:
        annotation: Any = Literal[tuple(str(c) for c in categories)]
        description = f"one of: {', '.join(map(str, categories))}"
    elif kind == "categorical":
        annotation = str
    elif kind == "boolean":
        annotation = bool
    else:
        annotation = float
        low, high = _finite(feature.minimum), _finite(feature.maximum)
        if low is not None:
            extra["ge"] = low
        if high is not None:
            extra["le"] = high
        if low is not None and high is not None:
            description = f"number between {low:.6g} and {high:.6g}"
    if feature.derived_from:
        description += f" (derived from date column '{feature.derived_from}')"
    examples = [example] if example is not None else None
    if feature.nullable:
        return annotation | None, Field(
            default=None,
            alias=feature.name,
            description=description + "; may be null",
            examples=examples,
            **extra,
        )
    return annotation, Field(alias=feature.name, description=description, examples=examples, **extra)


def build_instance_model(features: list[Column], example: dict[str, Any]) -> type[BaseModel]:
    """A pydantic model for one instance: one field per feature, unknown fields forbidden."""
    # Any: mypy checks a **dict against every keyword of create_model, __config__ and __base__ too.
    fields: dict[str, Any] = {
        _field_name(feature.name, i): _feature_field(feature, example.get(feature.name))
        for i, feature in enumerate(features)
    }
    config = ConfigDict(
        extra="forbid", allow_inf_nan=False, populate_by_name=False, json_schema_extra={"examples": [example]}
    )
    return create_model("Instance", __config__=config, **fields)


def _request_shape(body: Any) -> str | None:
    """Which of the two request shapes a body has (None when it has neither)."""
    if isinstance(body, dict):
        if BATCH in body:
            return BATCH
        if SINGLE in body:
            return SINGLE
    elif isinstance(body, BaseModel):
        return BATCH if hasattr(body, BATCH) else SINGLE
    return None


def build_request_model(instance: type[BaseModel], max_batch: int) -> Any:
    """The body of `POST /predict`: one instance, or a batch of 1 to `max_batch` (see shape_hint).

    A discriminated union, so a 422 reports the errors of the shape that was sent, not of both.
    """
    forbid = ConfigDict(extra="forbid")
    single = create_model(
        "SingleRequest",
        __config__=forbid,
        instance=(instance, Field(description="one row to score")),
    )
    batch = create_model(
        "BatchRequest",
        __config__=forbid,
        instances=(
            list[instance],  # type: ignore[valid-type]  # a class built at run time, for pydantic to read
            Field(min_length=1, max_length=max_batch, description=f"1 to {max_batch} rows to score"),
        ),
    )
    return Annotated[
        Annotated[single, Tag(SINGLE)] | Annotated[batch, Tag(BATCH)],
        Discriminator(
            _request_shape,
            custom_error_type="request_shape",
            custom_error_message=shape_hint(max_batch),
        ),
    ]


class RequestParser:
    """Parses and validates a `/predict` body in one pass of pydantic's JSON parser.

    FastAPI's own body handling (json.loads, then validating the dicts, through the dependency
    machinery) costs about a third more per request; `openapi()` documents the same schema.
    """

    def __init__(self, instance: type[BaseModel], max_batch: int) -> None:
        self.adapter: TypeAdapter[BaseModel] = TypeAdapter(build_request_model(instance, max_batch))

    @classmethod
    def from_features(cls, features: list[Column], example: dict[str, Any], max_batch: int) -> RequestParser:
        return cls(build_instance_model(features, example), max_batch)

    def parse(self, raw: bytes) -> BaseModel:
        """The validated request; a RequestValidationError (422) whose `loc` starts with "body"."""
        try:
            return self.adapter.validate_json(raw)
        except ValidationError as exc:
            errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
            raise RequestValidationError(errors, body=raw) from None

    def openapi(self, examples: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The OpenAPI `requestBody`, and the component schemas it refers to."""
        schema = self.adapter.json_schema(ref_template="#/components/schemas/{model}")
        components = schema.pop("$defs", {})
        media_type = {"schema": schema, "examples": examples}
        content = {"application/json": media_type}
        return {"required": True, "content": content}, components


def request_rows(body: BaseModel) -> list[dict[str, Any]]:
    """Column name -> plain value, one dict per instance, for either request shape."""
    data = body.model_dump(by_alias=True)  # one call for the whole batch, not one per row
    return data[BATCH] if BATCH in data else [data[SINGLE]]


class PredictResponse(BaseModel):
    """Predictions in request order, with class probabilities for classifiers."""

    predictions: list[str] | list[float]
    probabilities: list[dict[str, float]] | None = Field(
        default=None, description="one {class: probability} per instance (classifiers only)"
    )
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
    target: Target
    classes: list[str] | None
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    features: list[Column]
    example: dict[str, JsonScalar]
    max_batch_size: int


class ErrorResponse(BaseModel):
    """The body of every 4xx/5xx answer the service writes itself."""

    detail: str | list[dict[str, Any]]


def error_response(description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry for an error answered with ErrorResponse."""
    return {"model": ErrorResponse, "description": description}
