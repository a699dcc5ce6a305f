"""Every HTTP error: one JSON shape, one table from domain error class to status.

The body is always `{"error": {"code": "...", "message": "...", "request_id": "..."}}`. Domain errors
(broken rules) map through `STATUS_BY_DOMAIN_ERROR`; errors found at the edge (bad JSON, auth, rate
limits) are `ApiError`s that carry their own status. Anything else is a bug: the request-id middleware
logs it and answers a bare 500 with the request id, never a stack trace.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from mosaic.commands import generation
from mosaic.commands.upstream import AiUnavailable, UpstreamBusy, UpstreamFailed, UpstreamRefused
from mosaic.commands.writer import LedgerBusy
from mosaic.domain import errors as domain
from mosaic.imaging.decode import ImageRejected
from mosaic.imaging.options import InvalidOption
from mosaic.imaging.pipeline import ModeNotLocal

REQUEST_ID_SCOPE_KEY = "mosaic.request_id"
RETRY_AFTER_BUSY_S = 1

STATUS_BY_DOMAIN_ERROR: Mapping[type[domain.DomainError], int] = {
    domain.InvalidInput: 400,
    domain.NotFound: 404,
    domain.Forbidden: 403,
    domain.InsufficientCredits: 402,
    domain.ReservationNotOpen: 409,
    domain.RefundExceedsCharge: 409,
    domain.ChargeNotFound: 404,
    domain.KeyLimitReached: 409,
    domain.KeyRevoked: 401,
    domain.EmailTaken: 409,
    domain.UnknownPlan: 400,
    domain.InvalidSubscriptionStatus: 400,
    domain.InvalidCredits: 400,
    domain.IdempotencyKeyReused: 422,
    LedgerBusy: 503,
    AiUnavailable: 503,
    UpstreamBusy: 503,
    UpstreamFailed: 502,
    UpstreamRefused: 400,
    generation.GenerationBusy: 503,
    generation.GenerationTimedOut: 503,  # a server limit, nothing charged: not a 500 (a bug)
    generation.WorkerLost: 503,  # a worker killed under the job: retry (not kept as the key's answer)
    generation.AlreadyReleased: 409,
    generation.AlreadyCompleted: 409,
}

# Bad uploads and options are refused at the edge (imaging errors are not domain errors): 400, but
# 413 for an image too large to decode. Translated by `api_error_for_imaging`.
ImagingError = InvalidOption | ImageRejected | ModeNotLocal
IMAGING_ERRORS: tuple[type[InvalidOption], type[ImageRejected], type[ModeNotLocal]] = (
    InvalidOption, ImageRejected, ModeNotLocal,
)
STATUS_BY_IMAGE_REJECTION: Mapping[str, int] = {"image_too_large": 413}

# Standard reasons for statuses the router raises itself (unknown route, wrong method).
_CODE_BY_HTTP_STATUS = {404: "not_found", 405: "method_not_allowed"}


class ErrorDetail(msgspec.Struct, frozen=True):
    code: str
    message: str
    request_id: str


class ErrorBody(msgspec.Struct, frozen=True):
    error: ErrorDetail


class ApiError(Exception):
    """A refusal decided at the edge (input, auth, plan, rate limit), with its status and code."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        assert 400 <= status < 600, status
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


_encode = msgspec.json.Encoder().encode


def error_response(
    status: int, code: str, message: str, request_id: str, headers: Mapping[str, str] | None = None
) -> Response:
    body = _encode(ErrorBody(ErrorDetail(code=code, message=message, request_id=request_id)))
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def request_id_of(request: Request) -> str:
    request_id: str = request.scope.get(REQUEST_ID_SCOPE_KEY, "")
    return request_id


def response_for_api_error(exc: ApiError, request_id: str) -> Response:
    return error_response(exc.status, exc.code, exc.message, request_id, exc.headers)


def api_error_for_imaging(exc: ImagingError) -> ApiError:
    if isinstance(exc, ImageRejected):
        return ApiError(STATUS_BY_IMAGE_REJECTION.get(exc.code, 400), exc.code, exc.message)
    return ApiError(400, exc.code, str(exc))


def response_for_domain_error(exc: domain.DomainError, request_id: str) -> Response:
    status = STATUS_BY_DOMAIN_ERROR.get(type(exc))
    assert status is not None, f"{type(exc).__name__} is missing from STATUS_BY_DOMAIN_ERROR"
    # A busy service is worth retrying shortly; one that is not configured (ai_unavailable) is not.
    retry = status == 503 and exc.code != "ai_unavailable"
    headers = {"Retry-After": str(RETRY_AFTER_BUSY_S)} if retry else None
    return error_response(status, exc.code, exc.message, request_id, headers)


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
