"""The image prediction API: upload an image, get its class and the probabilities of every class.

Routes: `GET /health`, `GET /ready`, `GET /model`, `POST /predict` (a multipart upload in the form
field `file`, or JSON `{"image": "<base64>"}`), `GET /metrics` (Prometheus) and `GET /` (the demo
page, no CDN). Auth, the body-size limit, request ids, JSON access logs and metrics are the
tabular service's own middleware and dependencies (serving/). The model is the ONNX export, run by
ONNX Runtime: this module never imports torch.

Answers: 413 for a body above MAX_BODY_BYTES, 415 for something that is not an image, 422 for a
corrupt image, an image with more pixels than the model card allows (a decompression bomb), or a
request without an image.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from ..config import Settings, get_paths
from ..serving.limits import BodySizeLimit
from ..serving.observability import Metrics, RequestContext, configure_logging
from ..serving.security import api_key_dependency, check_auth_settings
from .card import ImageCard, read_card
from .preprocess import CorruptImageError, ImageTooLargeError, NotAnImageError, Shape, preprocess

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
SWAGGER = Path(__file__).parents[1] / "serving" / "static" / "swagger-ui"  # shared with tabular projects
# Uploads up to this size are decoded on the event loop: a small image takes well under a
# millisecond, less than handing it to a worker thread.
INLINE_BYTES = 64 * 1024
ROUTES = ("/health", "/ready", "/model", "/predict", "/metrics", "/", "/docs")


@dataclass
class ImageService:
    """The model card and metrics from the start; the ONNX Runtime session once the lifespan loads it."""

    settings: Settings
    model_dir: Path
    card: ImageCard
    metrics: Metrics
    session: Any = None
    shape: Shape = field(init=False)

    def __post_init__(self) -> None:
        self.shape = Shape(self.card.input.size, self.card.input.channels)

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageService:
        """Read models/model.json (MODEL_PATH, else the project's models/); the model loads later."""
        model_dir = settings.model_path or get_paths().models
        card = read_card(model_dir / "model.json")
        return cls(settings, model_dir, card, Metrics(card.classes))

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        """Load the ONNX model once, single-threaded (one request's math on one core), before serving."""
        import onnxruntime as ort

        started = time.perf_counter()
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(self.model_dir / self.card.onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self.metrics.set_model_info(self.card.name, self.card.version, "onnx")
        log.info(
            "model loaded",
            extra={"model": self.card.name, "seconds": round(time.perf_counter() - started, 3)},
        )
        try:
            yield
        finally:
            self.session = None

    def predict(self, data: bytes) -> dict[str, Any]:
        """The class and the probabilities of every class for one image's bytes."""
        if self.session is None:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, "the model is not loaded yet; retry shortly"
            )
        try:
            pixels = preprocess(data, self.shape, self.card.max_pixels)
        except NotAnImageError as exc:
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(exc)) from exc
        except (CorruptImageError, ImageTooLargeError) as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        probabilities = self.session.run(None, {self.card.input.name: pixels[np.newaxis]})[0][0]
        best = int(np.argmax(probabilities))
        label = self.card.classes[best]
        self.metrics.observe_predictions([label], regression=False)
        return {
            "prediction": label,
            "probabilities": {
                name: float(p) for name, p in zip(self.card.classes, probabilities, strict=True)
            },
            "model": self.card.name,
            "version": self.card.version,
        }


def _service(request: Request) -> ImageService:
    service: ImageService = request.app.state.service
    return service


async def image_bytes(request: Request) -> bytes:
    """The uploaded image: the form field `file` of a multipart body, or base64 in JSON `image`."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=4)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "no file in the form field `file`; send the image as file=@image.png",
            )
        return await upload.read()
    if kind == "application/json":
        try:
            encoded = json.loads(await request.body())["image"]
            return base64.b64decode(encoded, validate=True)
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                'the JSON body must be {"image": "<the image file in base64>"}',
            ) from exc
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        'send the image as multipart/form-data (form field `file`) or as JSON {"image": "<base64>"}',
    )


async def health() -> dict[str, str]:
    """Liveness: the process answers. Never needs the API key."""
    return {"status": "ok"}


async def ready(request: Request) -> dict[str, str]:
    """Readiness: the model is loaded. Never needs the API key."""
    if _service(request).session is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the model is not loaded yet")
    return {"status": "ready", "backend": "onnx"}


async def model_info(request: Request) -> dict[str, Any]:
    """The served model: name, version, classes, the input it expects, and its test metrics."""
    card = _service(request).card
    return card.model_dump(
        mode="json",
        include={
            "name",
            "version",
            "trained_at",
            "classes",
            "input",
            "primary_metric",
            "metrics",
            "baseline_metrics",
            "max_pixels",
        },
    )


async def predict(request: Request) -> JSONResponse:
    """Classify one image (PNG, JPEG, GIF, BMP, TIFF or WebP); returns the class and every probability."""
    data = await image_bytes(request)
    service = _service(request)
    if len(data) <= INLINE_BYTES:
        return JSONResponse(service.predict(data))
    # A large upload can take a second to decode: off the event loop, so other requests go on.
    return JSONResponse(await run_in_threadpool(service.predict, data))


async def prometheus_metrics(request: Request) -> Response:
    """Prometheus metrics: requests by route and status, latency, predictions per class."""
    body, content_type = _service(request).metrics.render()
    return Response(body, media_type=content_type)


async def demo_page() -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html")


async def docs(request: Request) -> HTMLResponse:
    """The OpenAPI UI from the Swagger files shipped in the package: works offline, no CDN."""
    root = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - docs",
        swagger_js_url=f"{root}/static/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{root}/static/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{root}/static/swagger-ui/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": True},
    )


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"example": {"detail": description}}}}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for the model in MODEL_PATH (default: the project's models/ folder).

    Raises ConfigError, saying what to do, when auth is on without API_KEY or model.json is missing.
    """
    settings = settings or Settings()
    configure_logging(settings.log_level)
    check_auth_settings(settings)
    service = ImageService.from_settings(settings)
    app = FastAPI(
        title=f"{service.card.name} image classification API",
        version=str(service.card.version or "0"),
        description=(
            f"Classifies an image into one of {len(service.card.classes)} classes. Limits: request bodies up "
            f"to {settings.max_body_bytes} bytes (MAX_BODY_BYTES), images up to {service.card.max_pixels} pixels."
        ),
        lifespan=service.lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    dependency = api_key_dependency(settings)
    auth = [Depends(dependency)] if dependency else []
    auth_errors: dict[int | str, dict[str, Any]] = (
        {401: _error("missing or wrong API key")} if dependency else {}
    )
    app.add_api_route("/health", health, methods=["GET"], tags=["ops"])
    app.add_api_route(
        "/ready", ready, methods=["GET"], tags=["ops"], responses={503: _error("not loaded yet")}
    )
    app.add_api_route(
        "/model", model_info, methods=["GET"], tags=["model"], dependencies=auth, responses=auth_errors
    )
    app.add_api_route(
        "/predict",
        predict,
        methods=["POST"],
        tags=["model"],
        dependencies=auth,
        responses={
            **auth_errors,
            413: _error("the body is larger than MAX_BODY_BYTES"),
            415: _error("the upload is not an image (or the body is neither multipart nor JSON)"),
            422: _error("the image is corrupt, has more pixels than allowed, or is missing"),
            503: _error("the model is not loaded yet"),
        },
    )
    app.add_api_route(
        "/metrics",
        prometheus_metrics,
        methods=["GET"],
        tags=["ops"],
        dependencies=auth,
        responses=auth_errors,
    )
    app.add_api_route("/", demo_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/docs", docs, methods=["GET"], include_in_schema=False)  # Swagger UI from local files
    app.mount("/static/swagger-ui", StaticFiles(directory=SWAGGER), name="swagger-ui")
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestContext, metrics=service.metrics, routes=ROUTES)
    return app


def __getattr__(name: str) -> FastAPI:
    """`app`, built from the environment on first access (uvicorn imports it; nothing loads on import)."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = create_app()
    globals()["app"] = app
    return app
