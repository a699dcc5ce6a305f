"""The one middleware: a request id on every request, response and log line; the request's metrics
and its access-log line; and JSON 500s for bugs.

Pure ASGI (no `BaseHTTPMiddleware`): it costs one closure and one header per request. Metrics are
labelled with the route's template (`/api/keys/{key_id}`), which the route wrapper puts in the scope,
so a label never holds an id or a path a client made up.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mosaic.commands import metrics
from mosaic.http.errors import REQUEST_ID_SCOPE_KEY, error_response
from mosaic.http.logs import REQUEST_ID

log = logging.getLogger(__name__)
access_log = logging.getLogger("mosaic.access")

ROUTE_SCOPE_KEY = "mosaic.route"
UNMATCHED_ROUTE = "unmatched"

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
    """Adopt a sane client `X-Request-ID` or make one; echo it; count and log the request; turn an
    escaped exception into a 500."""

    def __init__(self, app: ASGIApp, *, access_log_on: bool = True) -> None:
        self.app = app
        self.access_log_on = access_log_on
        # prometheus-client's `labels()` takes a lock and checks its labels on every call; a route,
        # method and status seen before reuse their children (the set is small: route templates)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        request_id = _incoming_request_id(scope) or new_request_id()
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        REQUEST_ID.set(request_id)
        id_header = (b"x-request-id", request_id.encode("ascii"))
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unexpected error handling %s %s", scope["method"], scope["path"])
            if status:
                raise  # the status line is gone; let the server drop the connection
            response = error_response(
                500, "internal_error", "an unexpected error occurred; quote the request id", request_id
            )
            await response(scope, receive, send_with_id)
        finally:
            self._observe(scope, status, time.perf_counter() - started_at)

    def _observe(self, scope: Scope, status: int, duration_s: float) -> None:
        route = scope.get(ROUTE_SCOPE_KEY, UNMATCHED_ROUTE)
        method = scope["method"]
        children = self._children.get((route, method, status))
        if children is None:
            children = self._children[(route, method, status)] = (
                metrics.HTTP_REQUESTS.labels(route, method, str(status)),
                metrics.HTTP_LATENCY.labels(route, method),
            )
        children[0].inc()
        children[1].observe(duration_s)
        if self.access_log_on and access_log.isEnabledFor(logging.INFO):
            client = scope.get("client")
            # made and handled directly: `info()` would first walk the stack for the caller's file and
            # line, which no log format of ours shows, on every request
            access_log.handle(access_log.makeRecord(
                access_log.name, logging.INFO, __file__, 0, "%s %s %d", (method, scope["path"], status), None,
                extra={
                    "method": method, "path": scope["path"], "route": route, "status": status,
                    "duration_ms": round(duration_s * 1000, 2), "client": client[0] if client else None,
                },
            ))
