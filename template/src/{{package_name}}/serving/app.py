"""The prediction service.

Run it with `uv run <package> serve`, or `uvicorn --factory <package>.serving.app:create_app`.

Routes:
- `GET /health`: liveness (always open);
- `GET /ready`: readiness, 200 once the model is loaded (always open);
- `GET /model`: metadata: name, version, training time, metrics, the features it expects;
- `POST /predict`: one instance or a batch; classifiers also return class probabilities;
- `GET /metrics`: Prometheus metrics;
- `GET /`: the demo page; `GET /docs`: the OpenAPI UI, served from local files (works offline).

The request model is generated from `models/model.json` when the app is created; the model itself
is loaded once, in the lifespan handler. Settings come from the environment (see config.Settings
and .env.example).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

from ..config import ConfigError, Settings, get_paths, tracking_uri
from .artifact import Predictor, load_predictor, read_card
from .limits import BodySizeLimit
from .observability import Metrics, RequestContext, configure_logging
from .schemas import (
    BATCH,
    SINGLE,
    ErrorResponse,
    ModelInfo,
    PredictResponse,
    RequestParser,
    request_rows,
    shape_hint,
)
from .security import api_key_dependency, check_auth_settings

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
SWAGGER = "static/swagger-ui"


def _model_dir(settings: Settings) -> Path:
    return settings.model_path or get_paths().models


def _tracking_uri(settings: Settings) -> str | None:
    """MLFLOW_TRACKING_URI, else the project's own store; None outside a project (MLflow decides)."""
    if settings.mlflow_tracking_uri:
        return settings.mlflow_tracking_uri
    try:
        return tracking_uri(get_paths(), settings)
    except ConfigError:
        return None


def _finite_floats(values: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float) and math.isfinite(v)}


@dataclass
class Service:
    """The model card, the request parser, the metrics and, once loaded, the predictor."""

    settings: Settings
    model_dir: Path
    card: dict[str, Any]
    parser: RequestParser
    metrics: Metrics
    predictor: Predictor | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Service:
        model_dir = _model_dir(settings)
        card = read_card(model_dir)
        parser = RequestParser.from_features(
            card["features"], card.get("example", {}), settings.max_batch_size
        )
        return cls(settings, model_dir, card, parser, Metrics(card["target"].get("classes")))

    @property
    def classes(self) -> list[str] | None:
        return self.card["target"].get("classes")

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        """Load the model once, before the first request; forget it at shutdown."""
        started = time.perf_counter()
        uri = self.settings.model_uri
        self.predictor = load_predictor(
            self.model_dir, self.card, uri, _tracking_uri(self.settings) if uri else None
        )
        self.metrics.set_model_info(self.card["name"], self.card.get("version"), self.predictor.backend)
        log.info(
            "model loaded",
            extra={
                "model": self.card["name"],
                "version": self.card.get("version"),
                "backend": self.predictor.backend,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        yield
        self.predictor = None

    def loaded(self) -> Predictor:
        if self.predictor is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "the model is not loaded yet; retry shortly"
            )
        return self.predictor

    async def predict(self, raw_body: bytes) -> dict[str, Any]:
        """Validate the body, predict, and return the PredictResponse as a plain dict."""
        model = self.loaded()
        rows = request_rows(self.parser.parse(raw_body))
        if len(rows) <= model.inline_rows:
            labels, proba = model.predict(rows)  # microseconds: cheaper than a thread hop
        else:
            labels, proba = await self._predict_in_thread(model, rows)
        regression = self.card["task"] == "regression"
        predictions = [float(p) for p in labels] if regression else [str(p) for p in labels]
        probabilities = None
        if proba is not None and self.classes:
            rounded = np.round(np.asarray(proba, dtype=np.float64), 6).tolist()
            probabilities = [dict(zip(self.classes, row, strict=True)) for row in rounded]
        self.metrics.observe_predictions(predictions, regression)
        return {
            "predictions": predictions,
            "probabilities": probabilities,
            "model": self.card["name"],
            "version": self.card.get("version"),
        }

    async def _predict_in_thread(self, model: Predictor, rows: list[dict[str, Any]]) -> tuple[list[Any], Any]:
        timeout = self.settings.predict_timeout_seconds
        try:
            return await asyncio.wait_for(asyncio.to_thread(model.predict, rows), timeout=timeout)
        except TimeoutError as exc:
            log.warning("prediction timed out", extra={"rows": len(rows), "timeout_seconds": timeout})
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"prediction took longer than {timeout}s; send fewer instances per request",
            ) from exc

    def info(self) -> ModelInfo:
        card = self.card
        return ModelInfo(
            name=card["name"],
            version=card.get("version"),
            task=card["task"],
            model_family=card["model_family"],
            trained_at=card["created_at"],
            backend=self.predictor.backend if self.predictor else "not loaded",
            target=card["target"],
            classes=self.classes,
            metrics=_finite_floats(card["metrics"]),
            baseline_metrics=_finite_floats(card["baseline_metrics"]),
            features=card["features"],
            example=card.get("example", {}),
            max_batch_size=self.settings.max_batch_size,
        )


def _json_safe(value: Any) -> Any:
    """Echoed inputs may hold NaN or bytes, which JSON cannot carry: show them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _error_location(loc: tuple[Any, ...]) -> list[Any]:
    """("body", "instances", 0, "island"): without the request-shape tag pydantic repeats in front."""
    parts = list(loc)
    if len(parts) > 2 and parts[0] == "body" and parts[1] in (SINGLE, BATCH) and parts[2] == parts[1]:
        del parts[1]
    return parts


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's usual `detail` list; each error also names its `field` in dotted form."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        loc = _error_location(tuple(error.get("loc", ())))
        entry = {k: _json_safe(v) for k, v in error.items() if k in ("type", "msg", "input", "ctx")}
        entry["loc"] = loc
        entry["field"] = ".".join(str(p) for p in loc[1:]) or "body"
        errors.append(entry)
    return JSONResponse({"detail": errors}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


def _add_api_routes(app: FastAPI, service: Service, protected: list[Any]) -> None:
    auth_errors = {401: _error("missing or wrong API key")} if protected else {}
    settings = service.settings

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers. Never needs the API key."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], responses={503: _error("the model is not loaded yet")})
    async def ready() -> dict[str, str]:
        """Readiness: the model is loaded and can predict. Never needs the API key."""
        return {"status": "ready", "backend": service.loaded().backend}

    @app.get(
        "/model", tags=["model"], response_model=ModelInfo, dependencies=protected, responses=auth_errors
    )
    async def model_info() -> ModelInfo:
        """Model metadata: name, version, training time, metrics and the features it expects."""
        return service.info()

    @app.post(
        "/predict",
        tags=["model"],
        response_model=PredictResponse,
        dependencies=protected,
        responses={
            **auth_errors,
            413: _error(f"the body is larger than {settings.max_body_bytes} bytes"),
            422: _error(
                "the body is not a valid request: each error names its `field` and what was expected"
            ),
            503: _error(
                f"the model is not loaded, or predicting took longer than {settings.predict_timeout_seconds}s"
            ),
        },
    )
    async def predict(request: Request) -> Response:
        """Predict for one instance or 1 to MAX_BATCH_SIZE instances, in request order.

        Classifiers also return one `{class: probability}` per instance.
        """
        # The body is parsed by RequestParser (documented in the OpenAPI by _document_request_body),
        # and the answer is already the PredictResponse shape: no second validation on the way out.
        return JSONResponse(await service.predict(await request.body()))

    @app.get(
        "/metrics",
        tags=["ops"],
        dependencies=protected,
        response_class=PlainTextResponse,
        responses=auth_errors,
    )
    async def prometheus_metrics() -> Response:
        """Prometheus metrics: requests by route and status, latency, predictions per class."""
        body, content_type = service.metrics.render()
        return Response(body, media_type=content_type)


def _add_pages(app: FastAPI) -> None:
    """The demo page and the Swagger UI, both from files in static/: no CDN, works offline."""

    @app.get("/", include_in_schema=False)
    async def demo_page() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - docs",
            swagger_js_url=f"{root}/{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{root}/{SWAGGER}/favicon-32x32.png",
            swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": True},
        )

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return FileResponse(STATIC / "swagger-ui" / "favicon-32x32.png", media_type="image/png")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _document_request_body(app: FastAPI, service: Service) -> None:
    """Put the generated request schema (and its examples) into the OpenAPI of `POST /predict`."""
    example = service.card.get("example", {})
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


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for the model in MODEL_PATH (default: the project's models/ folder).

    Raises ConfigError, saying what to do, when the settings cannot work (e.g. auth on, no API_KEY).
    """
    settings = settings or Settings()
    configure_logging(settings.log_level)
    check_auth_settings(settings)
    service = Service.from_settings(settings)
    card = service.card
    app = FastAPI(
        title=f"{card['name']} prediction API",
        version=str(card.get("version") or "0"),
        description=(
            f"Predicts `{card['target']['name']}` ({card['task']}) from {len(card['features'])} features: "
            + shape_hint(settings.max_batch_size, markdown=True)
            + "."
        ),
        lifespan=service.lifespan,
        docs_url=None,
        redoc_url=None,
        exception_handlers={RequestValidationError: _validation_error},
    )
    app.state.service = service
    dependency = api_key_dependency(settings)
    _add_api_routes(app, service, [Depends(dependency)] if dependency else [])
    _add_pages(app)
    _document_request_body(app, service)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestContext, metrics=service.metrics, routes={route.path for route in app.routes})
    return app
