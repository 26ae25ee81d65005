"""Request limits enforced before a request reaches a route: the body size."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status
from fastapi.responses import JSONResponse

from .observability import Message, Receive, Scope, Send

# Most clients (urllib, requests, browsers) send the whole body before they read the answer: if the
# server closed the connection at once, they would see a reset instead of the 413. So a body over
# the limit is read and thrown away, up to this many times the limit, before the 413 goes out.
DRAIN_FACTOR = 8


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


async def _discard(receive: Receive, budget: int) -> None:
    """Read and drop the rest of a request body, at most `budget` bytes of it."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class BodySizeLimit:
    """Refuse request bodies above `limit` bytes with 413, without keeping them in memory.

    A declared Content-Length above the limit is refused before the route runs; a body without one
    (chunked) is counted as it arrives and refused when it crosses the limit. That refusal is an
    HTTPException, because FastAPI turns any other error raised while it reads a body into a 400.
    (FastAPI's own `max_body_size` answers a bare "Content Too Large", and only once a route reads.)
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit
        self.detail = f"request body is larger than {limit} bytes; send fewer instances per request"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers") or ():
            if name == b"content-length" and value.isdigit():
                if int(value) > self.limit:
                    if int(value) <= DRAIN_FACTOR * self.limit:
                        await _discard(receive, int(value))
                    await self._reject(send)
                    return
                # the server never delivers more than the declared length: nothing left to count
                await self.app(scope, receive, send)
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    if message.get("more_body", False):
                        await _discard(receive, DRAIN_FACTOR * self.limit - seen)
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, self.detail)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except HTTPException as exc:  # raised by limited_receive outside FastAPI's routes
            if started or exc.status_code != status.HTTP_413_CONTENT_TOO_LARGE:
                raise
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        response = JSONResponse({"detail": self.detail}, status_code=status.HTTP_413_CONTENT_TOO_LARGE)
        await response({"type": "http"}, _no_receive, send)
