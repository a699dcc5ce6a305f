"""`Idempotency-Key` on paid and support routes: the header read, the answer kept as a neutral result.

The protocol (claim → complete or abandon, replay, 409 while in flight, 422 for another body) is
`mosaic.commands.idempotency`'s. Here: `produce` *raises* a `Failure` when nothing was charged (the
key is given back, so the same request may be retried), raises `PaidWorkFailed` once credits were
reserved and then released (its error answer is kept, unless it says "retry later": then the key is
given back and the retry reserves the request's next attempt), or returns the response to keep.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Final
from uuid import UUID

import msgspec
from starlette.responses import Response

from mosaic.commands.generate import PaidFile, as_failure
from mosaic.commands.idempotency import Payer, StoredResult, checked_idempotency_key
from mosaic.commands.paid import PaidWorkFailed
from mosaic.http.errors import request_id_of, response_for
from mosaic.http.routing import Call

IDEMPOTENCY_HEADER: Final = "idempotency-key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
KEPT_HEADERS: Final = ("content-disposition", "x-credits-charged", "x-credits-remaining", "retry-after")


def idempotency_key(call: Call) -> str | None:
    raw = call.request.headers.get(IDEMPOTENCY_HEADER)
    return None if raw is None else checked_idempotency_key(raw)


def payer(call: Call) -> Payer:
    """Who pays for this request (the caller's account) and under which Idempotency-Key."""
    return Payer(UUID(call.who.account_id), idempotency_key(call))


_encode = msgspec.json.Encoder().encode


def body_digest(body: msgspec.Struct) -> str:
    """The identity of a decoded JSON body for `answer_once` (field order and spacing do not count)."""
    return hashlib.sha256(_encode(body)).hexdigest()


def credit_headers(charged_credits: int, remaining_credits: int) -> dict[str, str]:
    return {"X-Credits-Charged": str(charged_credits), "X-Credits-Remaining": str(remaining_credits)}


def file_response(paid: PaidFile, *, disposition: str = "attachment") -> Response:
    headers = {
        "Content-Disposition": f'{disposition}; filename="{paid.filename}"',
        **credit_headers(paid.charged_credits, paid.remaining_credits),
    }
    return Response(paid.data, media_type=paid.media_type, headers=headers)


def _stored(response: Response, *, retry_later: bool = False) -> StoredResult:
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return StoredResult(
        response.status_code, response.media_type or "", headers, bytes(response.body),
        retry_later=retry_later,
    )


def _replayed(stored: StoredResult) -> Response:
    headers = {**stored.headers, REPLAYED_HEADER: "true"}
    return Response(
        stored.body, status_code=stored.status_code, headers=headers, media_type=stored.media_type
    )


async def _answered(call: Call, produce: Callable[[], Awaitable[Response]]) -> tuple[Response, bool]:
    """`produce()`'s response, or the error answer to paid work that failed; and whether to retry later."""
    try:
        return await produce(), False
    except PaidWorkFailed as failed:
        failure = as_failure(failed.cause)
        return response_for(failure, request_id_of(call.request)), failure.kind.retry_later


async def answer_once(
    call: Call, key: str | None, request_digest: str, produce: Callable[[], Awaitable[Response]]
) -> Response:
    """Answer with `produce()` once per (account, key); see the module docstring for the contract."""
    if key is None:  # nothing to keep: no copy of the body
        response, _ = await _answered(call, produce)
        return response
    fresh: Response | None = None

    async def kept() -> StoredResult:
        nonlocal fresh
        fresh, retry_later = await _answered(call, produce)
        return _stored(fresh, retry_later=retry_later)

    result = await call.use_cases.idempotency.answer_once(
        scope=call.who.account_id, key=key,
        request_hash=f"{call.request.method} {call.request.url.path} {request_digest}", produce=kept,
    )
    if result.replayed or fresh is None:
        return _replayed(result)
    return fresh
