"""The state one app serves from: the model card, the request parser, the metrics and the model.

The routes reach it through `current_service(request)`; `create_app` builds it from the settings,
and its `lifespan` loads the model once, before the first request.
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
from fastapi import FastAPI, HTTPException, Request, status

from ..artifacts import ModelCard
from ..config import ConfigError, Settings, get_paths, tracking_uri
from .artifact import Predictor, load_predictor, read_card
from .observability import Metrics, request_id_var
from .predlog import PredictionLog
from .schemas import ModelInfo, RequestParser, request_rows

log = logging.getLogger(__name__)


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


def _logs_dir() -> Path:
    """The project's logs/ folder; outside a project (e.g. in a container), ./logs."""
    try:
        return get_paths().logs
    except ConfigError:
        return Path("logs")


def _finite_floats(values: dict[str, float]) -> dict[str, float]:
    return {k: float(v) for k, v in values.items() if math.isfinite(v)}


@dataclass
class Service:
    """The model card, the request parser, the metrics and, once loaded, the predictor."""

    settings: Settings
    model_dir: Path
    card: ModelCard
    parser: RequestParser
    metrics: Metrics
    predictor: Predictor | None = None
    prediction_log: PredictionLog | None = None  # PREDICTION_LOG=true: every prediction, for `monitor`

    @classmethod
    def from_settings(cls, settings: Settings) -> Service:
        """Read and check model.json (not the model itself: that is the lifespan's job)."""
        model_dir = _model_dir(settings)
        card = read_card(model_dir)
        parser = RequestParser.from_features(card.features, card.example, settings.max_batch_size)
        prediction_log = PredictionLog.from_settings(settings, _logs_dir())
        return cls(settings, model_dir, card, parser, Metrics(card.classes), prediction_log=prediction_log)

    @asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        """Load the model once, before the first request; forget it at shutdown."""
        started = time.perf_counter()
        uri = self.settings.model_uri
        self.predictor = load_predictor(
            self.model_dir, self.card, uri, _tracking_uri(self.settings) if uri else None
        )
        self.metrics.set_model_info(self.card.name, self.card.version, self.predictor.backend)
        log.info(
            "model loaded",
            extra={
                "model": self.card.name,
                "version": self.card.version,
                "backend": self.predictor.backend,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        if self.prediction_log:
            self.prediction_log.start()
        try:
            yield
        finally:
            if self.prediction_log:
                self.prediction_log.stop()
            self.predictor = None

    def loaded(self) -> Predictor:
        """The predictor, or a 503 while the lifespan has not loaded it."""
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
        card = self.card
        regression = card.task == "regression"
        predictions = [float(p) for p in labels] if regression else [str(p) for p in labels]
        probabilities = None
        if proba is not None and card.classes:
            rounded = np.round(np.asarray(proba, dtype=np.float64), 6).tolist()
            probabilities = [dict(zip(card.classes, row, strict=True)) for row in rounded]
        self.metrics.observe_predictions(predictions, regression)
        if self.prediction_log:
            # The body as sent (it has passed validation): the log cuts the instances out of it
            # instead of encoding the rows again.
            self.prediction_log.record(
                raw_body, rows, predictions, card.name, card.version, request_id_var.get()
            )
        return {
            "predictions": predictions,
            "probabilities": probabilities,
            "model": card.name,
            "version": card.version,
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
        """What `GET /model` answers: the card's description of the model and the serving limits."""
        card = self.card
        return ModelInfo(
            name=card.name,
            version=card.version,
            task=card.task,
            model_family=card.model_family,
            trained_at=card.created_at.isoformat(),
            backend=self.predictor.backend if self.predictor else "not loaded",
            target=card.target,
            classes=card.classes,
            metrics=_finite_floats(card.metrics),
            baseline_metrics=_finite_floats(card.baseline_metrics),
            features=card.features,
            example=card.example,
            max_batch_size=self.settings.max_batch_size,
        )


def current_service(request: Request) -> Service:
    """The service of the app that received `request` (set by create_app)."""
    service: Service = request.app.state.service
    return service
