"""The demo page and the Swagger UI, both from files in static/: no CDN, so they work offline."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parents[1] / "static"
SWAGGER = "static/swagger-ui"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def demo_page() -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/docs")
async def docs(request: Request) -> HTMLResponse:
    app = request.app
    root = request.scope.get("root_path", "").rstrip("/")
    return get_swagger_ui_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - docs",
        swagger_js_url=f"{root}/{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}/{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=f"{root}/{SWAGGER}/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": True},
    )


@router.get("/favicon.ico")
async def favicon() -> Response:
    return FileResponse(STATIC / "swagger-ui" / "favicon-32x32.png", media_type="image/png")


def mount_static(app: FastAPI) -> str:
    """Serve static/ under /static (a mount, which a router cannot carry); returns that path."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return "/static"
