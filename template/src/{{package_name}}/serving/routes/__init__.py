"""The API's routes: one module per group, each with a module-level `router`, registered here.

Open routes answer anyone; protected ones get the API-key check when it is on (see security.py),
and their OpenAPI entries document the 401. Adding a route group is one new module in this folder
and its name in OPEN or PROTECTED below. The order is the order of the OpenAPI document.
"""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from ..schemas import error_response
from .pages import mount_static

OPEN = ("health", "pages")
PROTECTED = ("model", "predict", "metrics")


def router_of(name: str) -> APIRouter:
    """The `router` of the route module `name` in this package."""
    found = getattr(importlib.import_module(f"{__name__}.{name}"), "router", None)
    if not isinstance(found, APIRouter):
        raise TypeError(f"{__name__}.{name} defines no `router = APIRouter(...)`; a route module needs one")
    return found


def include_routes(app: FastAPI, auth: list[Any]) -> set[str]:
    """Add every router to `app`, the protected ones behind the `auth` dependencies (none: open).

    Returns the paths they serve: the metrics label a request refused before routing (a 413) with
    its path only when it is one of these, so label values stay few.
    """
    auth_errors: dict[int | str, dict[str, Any]] = (
        {401: error_response("missing or wrong API key")} if auth else {}
    )
    paths: set[str] = set()
    for name in OPEN:
        paths |= _add_routes(app, router_of(name), [], {})
    for name in PROTECTED:
        paths |= _add_routes(app, router_of(name), auth, auth_errors)
    return paths | {mount_static(app)}


def _add_routes(
    app: FastAPI, group: APIRouter, dependencies: list[Any], responses: dict[int | str, dict[str, Any]]
) -> set[str]:
    """Add the routes of `group` to the app itself, each behind `dependencies`; returns their paths.

    Not `app.include_router`: FastAPI 0.16x keeps an included router as one node that every request
    walks through, which measured 20 µs (10%) more per `POST /predict` on the default project.
    Added one by one, the routes match exactly as if they had been declared on the app.
    """
    for route in group.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: a route module's router holds API routes only (no mounts)")
        app.add_api_route(
            route.path,
            route.endpoint,
            methods=sorted(route.methods or ()),
            name=route.name,
            tags=route.tags,
            summary=route.summary,
            description=route.description,
            response_model=route.response_model,
            response_class=route.response_class,
            status_code=route.status_code,
            responses={**responses, **route.responses},
            dependencies=[*dependencies, *route.dependencies],
            include_in_schema=route.include_in_schema,
        )
    return {route.path for route in group.routes if isinstance(route, APIRoute)}
