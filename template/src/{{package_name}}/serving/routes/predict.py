"""`POST /predict`: one instance or a batch, validated against the model's own feature schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from ..schemas import BATCH, SINGLE, PredictResponse, error_response
from ..service import Service, current_service

router = APIRouter(tags=["model"])


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses={
        413: error_response("the body is larger than MAX_BODY_BYTES (the API description gives the limit)"),
        422: error_response(
            "the body is not a valid request: each error names its `field` and what was expected"
        ),
        503: error_response(
            "the model is not loaded, or predicting took longer than PREDICT_TIMEOUT_SECONDS"
        ),
    },
)
async def predict(request: Request) -> Response:
    """Predict for one instance or 1 to MAX_BATCH_SIZE instances, in request order.

    Classifiers also return one `{class: probability}` per instance.
    """
    # The body is parsed by RequestParser (documented in the OpenAPI by document_request_body), and
    # the answer is already the PredictResponse shape: no second validation on the way out.
    return JSONResponse(await current_service(request).predict(await request.body()))


def document_request_body(app: FastAPI, service: Service) -> None:
    """Put the generated request schema (and its examples) into the OpenAPI of `POST /predict`.

    The route reads the raw body itself, so FastAPI cannot see the model; the schema is the one
    RequestParser validates with.
    """
    example = service.card.example
    one, batch = {SINGLE: example}, {BATCH: [example, example]}
    body, components = service.parser.openapi(
        {
            "one": {"summary": "one instance", "value": one},
            "batch": {"summary": "a batch", "value": batch},
        }
    )
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema["paths"]["/predict"]["post"]["requestBody"] = body
            schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
