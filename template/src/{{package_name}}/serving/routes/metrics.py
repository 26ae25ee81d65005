"""`GET /metrics`: the service's Prometheus metrics (see observability.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from ..service import current_service

router = APIRouter(tags=["ops"])


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus_metrics(request: Request) -> Response:
    """Prometheus metrics: requests by route and status, latency, predictions per class."""
    body, content_type = current_service(request).metrics.render()
    return Response(body, media_type=content_type)
