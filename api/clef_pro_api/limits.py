"""Request body limits, enforced while the body streams in.

A ``Content-Length`` over the limit is refused before a byte is read; a
chunked body is counted as it arrives and refused the moment it passes the
limit, so an oversized upload never sits whole in memory.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException
from starlette import status
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises HTTPExceptions met while reading the body.
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, _detail(limit))
            return message

        await self.app(scope, counting_receive, send)


def _detail(limit: int) -> str:
    return f"request body is larger than this endpoint's limit of {limit} bytes"


def _too_large(limit: int) -> ASGIApp:
    return JSONResponse({"detail": _detail(limit)}, status_code=status.HTTP_413_CONTENT_TOO_LARGE)
