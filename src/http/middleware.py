"""The one middleware: a request id on every request and response, and JSON 500s for bugs.

Pure ASGI (no `BaseHTTPMiddleware`): it costs one closure and one header per request.
"""

from __future__ import annotations

import itertools
import logging
import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mosaic.http.errors import REQUEST_ID_SCOPE_KEY, error_response

log = logging.getLogger(__name__)

REQUEST_ID_CHARS_MAX = 64
_CLIENT_REQUEST_ID = re.compile(rf"[A-Za-z0-9._-]{{1,{REQUEST_ID_CHARS_MAX}}}")
# A random process prefix and a counter: unique, and no system call per request (os.urandom, which
# uuid4 uses, is one, and costs a good share of a bare request).
_PROCESS_PREFIX = os.urandom(6).hex()
_sequence = itertools.count(1)


def new_request_id() -> str:
    return f"{_PROCESS_PREFIX}-{next(_sequence):x}"


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _CLIENT_REQUEST_ID.fullmatch(text) else None
    return None


class RequestIdMiddleware:
    """Adopt a sane client `X-Request-ID` or make one; echo it; turn an escaped exception into a 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or new_request_id()
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        id_header = (b"x-request-id", request_id.encode("ascii"))
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception(
                "unexpected error handling %s %s (request %s)", scope["method"], scope["path"], request_id
            )
            if started:
                raise  # the status line is gone; let the server drop the connection
            response = error_response(
                500, "internal_error", "an unexpected error occurred; quote the request id", request_id
            )
            await response(scope, receive, send_with_id)
