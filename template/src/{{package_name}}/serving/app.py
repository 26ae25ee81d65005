"""The prediction service.

Run it with `uv run <package> serve`, or `uvicorn --factory <package>.serving.app:create_app`.
Routes: `GET /health`, `GET /ready`, `GET /model`, `POST /predict`, `GET /` (demo page),
`GET /docs` (OpenAPI UI). The request model is generated from `models/model.json` when the app
is created; the model itself is loaded once, in the lifespan handler.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.responses import FileResponse, JSONResponse

from ..config import Settings, get_paths
from .artifact import Predictor, load_predictor, read_card
from .schemas import ModelInfo, PredictResponse, build_instance_model, build_request_model, instance_values

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def _model_dir(settings: Settings) -> Path:
    return settings.model_path or get_paths().models


def _clean_floats(values: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if isinstance(v, int | float) and math.isfinite(v)}


class BodySizeLimit:
    """Refuse request bodies above `limit` bytes with 413, before they are read into memory."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(
        self, scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Any
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._reject(send)
            return
        seen = 0

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(send)

    async def _reject(self, send: Any) -> None:
        response = JSONResponse(
            {"detail": f"request body is larger than {self.limit} bytes; send fewer instances per request"},
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        )
        await response({"type": "http"}, _no_receive, send)


class _TooLarge(Exception):
    pass


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for the model in MODEL_PATH (default: the project's models/ folder)."""
    settings = settings or Settings()
    model_dir = _model_dir(settings)
    card = read_card(model_dir)
    example = card.get("example", {})
    instance_model = build_instance_model(card["features"], example)
    request_model = build_request_model(instance_model, settings.max_batch_size, example)
    classes: list[str] | None = card["target"].get("classes")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = time.perf_counter()
        app.state.predictor = load_predictor(model_dir, card, settings.model_uri)
        log.info(
            "model %s loaded (%s backend) in %.3fs",
            card["name"],
            app.state.predictor.backend,
            time.perf_counter() - started,
        )
        yield
        app.state.predictor = None

    app = FastAPI(
        title=f"{card['name']} prediction API",
        version=str(card.get("version") or "0"),
        description=f"Predicts `{card['target']['name']}` ({card['task']}) from {len(card['features'])} features.",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)

    def predictor(request: Request) -> Predictor:
        loaded = getattr(request.app.state, "predictor", None)
        if loaded is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the model is not loaded yet")
        return loaded

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"])
    def ready(model: Predictor = Depends(predictor)) -> dict[str, str]:
        """Readiness: the model is loaded and can predict."""
        return {"status": "ready", "backend": model.backend}

    @app.get("/model", tags=["model"], response_model=ModelInfo)
    def model_info(request: Request) -> ModelInfo:
        """Model metadata: name, version, training time, metrics and the features it expects."""
        loaded = getattr(request.app.state, "predictor", None)
        return ModelInfo(
            name=card["name"],
            version=card.get("version"),
            task=card["task"],
            model_family=card["model_family"],
            trained_at=card["created_at"],
            backend=loaded.backend if loaded else "not loaded",
            target=card["target"],
            classes=classes,
            metrics=_clean_floats(card["metrics"]),
            baseline_metrics=_clean_floats(card["baseline_metrics"]),
            features=card["features"],
            example=example,
        )

    @app.post("/predict", tags=["model"], response_model=PredictResponse)
    async def predict(body: request_model, model: Predictor = Depends(predictor)) -> PredictResponse:  # type: ignore[valid-type]
        """Predict for 1 to MAX_BATCH_SIZE instances; classifiers also return class probabilities."""
        rows = [instance_values(instance) for instance in body.instances]
        try:
            labels, proba = await asyncio.wait_for(
                asyncio.to_thread(model.predict, rows), timeout=settings.predict_timeout_seconds
            )
        except TimeoutError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"prediction took longer than {settings.predict_timeout_seconds}s; send fewer instances",
            ) from exc
        probabilities = None
        if proba is not None and classes:
            probabilities = [dict(zip(classes, map(float, np.round(row, 6)), strict=True)) for row in proba]
        predictions = (
            [str(p) for p in labels] if card["task"] == "classification" else [float(p) for p in labels]
        )
        return PredictResponse(
            predictions=predictions,
            probabilities=probabilities,
            model=card["name"],
            version=card.get("version"),
        )

    @app.get("/", include_in_schema=False)
    def demo_page() -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    return app
