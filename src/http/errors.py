"""Every HTTP error: one JSON shape, one table from error kind to status.

The body is always `{"error": {"code": "...", "message": "...", "request_id": "..."}}`. Every error
of ours is a `Failure` whose class says its kind (`mosaic.domain.errors.ErrorKind`); the status comes
from `STATUS_BY_KIND` and nowhere else, and a retryable kind also gets `Retry-After`. Refusals
found here at the edge (bad JSON, auth, rate limits) are `EdgeError`s, one class per kind, each
with its own code. Anything else is a bug: the request-id middleware logs it and answers a bare 500
with the request id, never a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from mosaic.domain.errors import ErrorKind, Failure

REQUEST_ID_SCOPE_KEY: Final = "mosaic.request_id"
RETRY_AFTER_BUSY_S: Final = 1

STATUS_BY_KIND: Final[Mapping[ErrorKind, int]] = {
    ErrorKind.INVALID_INPUT: 400,
    ErrorKind.TOO_LARGE: 413,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.PAYMENT_REQUIRED: 402,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNPROCESSABLE: 422,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.NOT_CONFIGURED: 503,  # no Retry-After: retrying will not configure it
    ErrorKind.UPSTREAM_FAILED: 502,
    ErrorKind.INTERNAL: 500,
}
assert set(STATUS_BY_KIND) == set(ErrorKind), "every kind has its status"

# Standard reasons for statuses the router raises itself (unknown route, wrong method).
_CODE_BY_HTTP_STATUS: Final = {404: "not_found", 405: "method_not_allowed"}


class EdgeError(Failure):
    """A refusal decided at the edge (input, auth, plan, rate limit), with its code and headers."""

    def __init__(self, code: str, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.headers = dict(headers or {})


class BadRequest(EdgeError):
    kind = ErrorKind.INVALID_INPUT


class PayloadTooLarge(EdgeError):
    kind = ErrorKind.TOO_LARGE


class Unauthorized(EdgeError):
    kind = ErrorKind.UNAUTHENTICATED


class RateLimited(EdgeError):
    kind = ErrorKind.RATE_LIMITED


class NotPermitted(EdgeError):
    kind = ErrorKind.FORBIDDEN


class NoSuchResource(EdgeError):
    kind = ErrorKind.NOT_FOUND


class Unavailable(EdgeError):
    kind = ErrorKind.UNAVAILABLE


class ErrorDetail(msgspec.Struct, frozen=True):
    code: str
    message: str
    request_id: str


class ErrorBody(msgspec.Struct, frozen=True):
    error: ErrorDetail


_encode = msgspec.json.Encoder().encode


def error_response(
    status: int, code: str, message: str, request_id: str, headers: Mapping[str, str] | None = None
) -> Response:
    body = _encode(ErrorBody(ErrorDetail(code=code, message=message, request_id=request_id)))
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def request_id_of(request: Request) -> str:
    request_id: str = request.scope.get(REQUEST_ID_SCOPE_KEY, "")
    return request_id


def status_of(failure: Failure) -> int:
    return STATUS_BY_KIND[failure.kind]


def response_for(failure: Failure, request_id: str) -> Response:
    """The one translation of a failure into an HTTP answer."""
    headers = dict(failure.headers) if isinstance(failure, EdgeError) else {}
    retry_after_s = RETRY_AFTER_BUSY_S if failure.kind.retry_later else failure.retry_after_s
    if retry_after_s is not None:
        headers.setdefault("Retry-After", str(retry_after_s))
    return error_response(status_of(failure), failure.code, failure.message, request_id, headers or None)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """The router's own 404 (no such route) and 405 (wrong method), as JSON."""
    assert isinstance(exc, HTTPException)
    code = _CODE_BY_HTTP_STATUS.get(exc.status_code, "http_error")
    if exc.status_code == 404:
        message = f"no route {request.url.path}; GET /openapi.json lists every route"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, code, message, request_id_of(request), exc.headers)
