"""API-key protection for the prediction routes.

Whether a key is required comes from the environment (REQUIRE_API_KEY=true|false) or, when that is
unset, from `defaults.toml` beside this file, which the project template wrote from its `api_auth`
answer. The key itself is read from API_KEY, never from a file in the repository. Clients send it
in the `X-API-Key` header (API_KEY_HEADER renames it) or as `Authorization: Bearer <key>`, which
is what Prometheus sends for a scrape job with an `authorization` block. Comparison is constant
time. `/health`, `/ready`, the demo page and the docs stay open.
"""

from __future__ import annotations

import hmac
import tomllib
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Security, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from ..config import ConfigError, Settings

DEFAULTS_FILE = Path(__file__).with_name("defaults.toml")


@cache
def generated_defaults() -> dict[str, Any]:
    """The serving defaults chosen when the project was generated."""
    try:
        return tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def api_key_required(settings: Settings) -> bool:
    """REQUIRE_API_KEY when it is set, else the project's default (the template's `api_auth` answer)."""
    if settings.require_api_key is not None:
        return settings.require_api_key
    return bool(generated_defaults().get("require_api_key", False))


def configured_key(settings: Settings) -> bytes | None:
    """The API key as bytes, or None when API_KEY is unset or empty."""
    if settings.api_key is None:
        return None
    key = settings.api_key.strip()
    return key.encode() if key else None


def check_auth_settings(settings: Settings) -> None:
    """Refuse to serve with auth on and no key: the service would answer 401 to everyone."""
    if api_key_required(settings) and configured_key(settings) is None:
        raise ConfigError(
            "API key authentication is on (REQUIRE_API_KEY, or the project's api_auth answer in "
            f"{DEFAULTS_FILE.name}) but API_KEY is not set. Set it to a long random secret, e.g. "
            "export API_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))'), "
            "or serve without authentication with REQUIRE_API_KEY=false."
        )


def api_key_dependency(settings: Settings) -> Callable[..., Awaitable[None]] | None:
    """A FastAPI dependency that answers 401 without the right key (None when auth is off)."""
    expected = configured_key(settings)
    if not api_key_required(settings) or expected is None:
        return None
    header_name = settings.api_key_header
    header = APIKeyHeader(name=header_name, auto_error=False, description="The API key (API_KEY).")
    bearer = HTTPBearer(auto_error=False, description="The API key as a bearer token.")

    async def require_api_key(
        key: str | None = Security(header),
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
    ) -> None:
        sent = key if key is not None else (credentials.credentials if credentials else None)
        if sent is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                f"missing API key: send it in the {header_name} header",
                headers={"WWW-Authenticate": f'ApiKey header="{header_name}"'},
            )
        if not hmac.compare_digest(sent.encode(), expected):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "wrong API key",
                headers={"WWW-Authenticate": f'ApiKey header="{header_name}"'},
            )

    return require_api_key
