"""Liveness and readiness, for orchestrators and load balancers: always open, never need the key."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..schemas import error_response
from ..service import current_service

router = APIRouter(tags=["ops"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Liveness: the process answers. Never needs the API key."""
    return {"status": "ok"}


@router.get("/ready", responses={503: error_response("the model is not loaded yet")})
async def ready(request: Request) -> dict[str, str]:
    """Readiness: the model is loaded and can predict. Never needs the API key."""
    return {"status": "ready", "backend": current_service(request).loaded().backend}
