"""`GET /model`: what the served model is, how it scored, and the features it expects."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..schemas import ModelInfo
from ..service import current_service

router = APIRouter(tags=["model"])


@router.get("/model", response_model=ModelInfo)
async def model_info(request: Request) -> ModelInfo:
    """Model metadata: name, version, training time, metrics and the features it expects."""
    return current_service(request).info()
