"""The prediction service: `create_app` builds it; `app` is the instance servers import.

Run it with `uv run <package> serve`, `uvicorn <package>.serving.app:app`, or
`fastapi run src/<package>/serving/app.py` (with `fastapi[standard]` installed).

Routes (one module per group in routes/, registered in routes/__init__.py):
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

import math
from typing import Any

from fastapi import Depends, FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ..config import Settings
from .limits import BodySizeLimit
from .observability import RequestContext, configure_logging
from .routes import include_routes
from .routes.predict import document_request_body
from .schemas import BATCH, SINGLE, shape_hint
from .security import api_key_dependency, check_auth_settings
from .service import Service


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
    if not isinstance(exc, RequestValidationError):  # registered for this type only
        raise exc
    errors = []
    for error in exc.errors():
        loc = _error_location(tuple(error.get("loc", ())))
        entry = {k: _json_safe(v) for k, v in error.items() if k in ("type", "msg", "input", "ctx")}
        entry["loc"] = loc
        entry["field"] = ".".join(str(p) for p in loc[1:]) or "body"
        errors.append(entry)
    return JSONResponse({"detail": errors}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _description(service: Service) -> str:
    """The API's description: what it predicts, the request shape and the limits in force."""
    card, settings = service.card, service.settings
    return (
        f"Predicts `{card.target.name}` ({card.task}) from {len(card.features)} features: "
        + shape_hint(settings.max_batch_size, markdown=True)
        + f". Limits: request bodies up to {settings.max_body_bytes} bytes (MAX_BODY_BYTES), "
        f"predictions within {settings.predict_timeout_seconds}s (PREDICT_TIMEOUT_SECONDS)."
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for the model in MODEL_PATH (default: the project's models/ folder).

    Raises ConfigError, saying what to do, when the settings cannot work (e.g. auth on, no API_KEY),
    or when models/model.json is missing or does not match this version of the project.
    """
    settings = settings or Settings()
    configure_logging(settings.log_level)
    check_auth_settings(settings)
    service = Service.from_settings(settings)
    app = FastAPI(
        title=f"{service.card.name} prediction API",
        version=str(service.card.version or "0"),
        description=_description(service),
        lifespan=service.lifespan,
        docs_url=None,
        redoc_url=None,
        exception_handlers={RequestValidationError: _validation_error},
    )
    app.state.service = service
    dependency = api_key_dependency(settings)
    paths = include_routes(app, [Depends(dependency)] if dependency else [])
    document_request_body(app, service)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes)
    app.add_middleware(RequestContext, metrics=service.metrics, routes=paths)
    return app


def __getattr__(name: str) -> FastAPI:
    """`app`, built from the environment on first access, then kept.

    Importing this module reads no file; `uvicorn <package>.serving.app:app` builds the app when
    it looks the attribute up, and the lifespan then loads the model before the first request.
    """
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = create_app()
    globals()["app"] = app
    return app


def __dir__() -> list[str]:
    # `fastapi run` finds the app by listing the module's names.
    return sorted([*globals(), "app"])
