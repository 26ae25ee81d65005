"""What the service tells its operators: request ids, JSON logs and Prometheus metrics.

- Every request gets an id: the caller's `X-Request-ID` when it is sane, else a new one. It is
  echoed in the response header and carried by every log line written while the request runs.
- Logs are one JSON object per line on stderr, so a log shipper can index them without parsing.
- `/metrics` exposes request counts, a latency histogram and prediction counts per class. With
  several worker processes, set PROMETHEUS_MULTIPROC_DIR to an empty folder so that one scrape
  sees all workers.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import uuid
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from contextvars import ContextVar
from typing import Any, TextIO

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
    generate_latest,
    multiprocess,
)

LOGGER_NAME = __package__ or "serving"
REQUEST_ID_HEADER = "X-Request-ID"
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STANDARD_RECORD_KEYS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)

# The ASGI shapes, as Starlette declares them (so our middleware and its responses agree).
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def new_request_id(candidate: str | None) -> str:
    """The caller's id if it is a short token (safe to log and echo), else a fresh uuid4 hex."""
    if candidate and _SANE_ID.fullmatch(candidate):
        return candidate
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_RECORD_KEYS and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _utc_timestamp(created: float) -> str:
    """ISO 8601 in UTC with milliseconds, e.g. 2026-11-27T16:04:32.344Z."""
    seconds = int(created)
    return (
        f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{int((created - seconds) * 1000):03d}Z"
    )


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at emit time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str) -> logging.Logger:
    """JSON lines on stderr for the service's loggers; calling it again changes only the level."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(handler.formatter, JsonFormatter) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    return logger


class Metrics:
    """The service's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self, classes: list[str] | None) -> None:
        self.registry = CollectorRegistry()
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time from the first byte of the request to the end of the response.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "model_batch_rows",
            "Instances per /predict request.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "model_predictions_total",
            'Predictions served, by predicted class (regression models use class="value").',
            ["class"],
            registry=self.registry,
        )
        self.predicted_value = Summary(
            "model_predicted_value",
            "Predicted values of a regression model (sum and count give the running mean).",
            registry=self.registry,
        )
        self.model_info = Gauge(
            "model_info",
            "The model being served (always 1; the labels say which).",
            ["model", "version", "backend"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        for label in classes or []:
            self.predictions.labels(label)  # known classes show up as 0 before the first prediction

    def set_model_info(self, model: str, version: str | None, backend: str) -> None:
        self.model_info.labels(model, version or "", backend).set(1)

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:  # labels() takes a lock and builds a key: do it once per combination
            children = self.requests.labels(method, route, str(status)), self.latency.labels(method, route)
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_predictions(self, predictions: Iterable[Any], regression: bool) -> None:
        values = list(predictions)
        self.batch_rows.observe(len(values))
        if regression:
            self.predictions.labels("value").inc(len(values))
            for value in values:
                self.predicted_value.observe(value)
            return
        for label, count in Tally(map(str, values)).items():
            self.predictions.labels(label).inc(count)

    def render(self) -> tuple[bytes, str]:
        """The exposition text; with PROMETHEUS_MULTIPROC_DIR set, aggregated over every worker."""
        registry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _route_label(scope: Scope, routes: frozenset[str]) -> str:
    """The route template (`/predict`, never the raw path), so label values stay few."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    # refused before routing (e.g. 413): the path is a route's own when it is one of them
    return scope["path"] if scope["path"] in routes else "unmatched"


class RequestContext:
    """Pure ASGI middleware: request id, one JSON access-log line and the metrics, per request."""

    def __init__(
        self, app: Callable[[Scope, Receive, Send], Awaitable[None]], metrics: Metrics, routes: Iterable[str]
    ) -> None:
        self.app, self.metrics, self.routes = app, metrics, frozenset(routes)
        self.access = logging.getLogger(f"{LOGGER_NAME}.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = None
        for name, value in scope.get("headers") or ():
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = new_request_id(incoming)
        token = request_id_var.set(request_id)
        status = 500
        header = (REQUEST_ID_HEADER.lower().encode(), request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            self.access.exception("unhandled error", extra={"path": scope["path"]})
            raise
        finally:
            seconds = time.perf_counter() - started
            route = _route_label(scope, self.routes)
            self.metrics.observe_request(scope["method"], route, status, seconds)
            if self.access.isEnabledFor(logging.INFO):
                self.access.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 3),
                    },
                )
            request_id_var.reset(token)
