"""`Idempotency-Key` for paid routes: `answer_once` claims the key, runs the work, keeps the answer.

The work (`produce`) follows one contract: it *raises* when nothing was charged (a 402, a busy pool,
a bad input), and the key is given back so the same request may be retried; it *returns* a response
once credits were reserved, whether they were then captured (2xx) or released (an error response),
and that response is what every repeat of the request gets.

Except a "retry later": a 5xx with `Retry-After` (a busy ledger or upstream after the reservation)
is no outcome, so it is not kept either; the key is given back, and the retry reserves the request's
next attempt (`mosaic.commands.paid`), so it is still charged at most once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Final

import anyio
import anyio.to_thread
import msgspec
from starlette.responses import Response

from mosaic.http.errors import RETRY_AFTER_BUSY_S, ApiError
from mosaic.http.routing import Call
from mosaic.idempotency import (
    Claimed,
    InFlight,
    InvalidIdempotencyKey,
    OtherBody,
    Replay,
    StoredResponse,
    checked_idempotency_key,
)

IDEMPOTENCY_HEADER: Final = "idempotency-key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
KEPT_HEADERS: Final = ("content-disposition", "x-credits-charged", "x-credits-remaining", "retry-after")


def idempotency_key(call: Call) -> str | None:
    raw = call.request.headers.get(IDEMPOTENCY_HEADER)
    if raw is None:
        return None
    try:
        return checked_idempotency_key(raw)
    except InvalidIdempotencyKey as exc:
        raise ApiError(400, "invalid_idempotency_key", str(exc)) from None


_encode = msgspec.json.Encoder().encode


def body_digest(body: msgspec.Struct) -> str:
    """The identity of a decoded JSON body for `answer_once` (field order and spacing do not count)."""
    return hashlib.sha256(_encode(body)).hexdigest()


def _stored(response: Response) -> StoredResponse:
    headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
    return StoredResponse(response.status_code, response.media_type or "", headers, bytes(response.body))


def _retry_later(response: Response) -> bool:
    return response.status_code >= 500 and "retry-after" in response.headers


def _replayed(stored: StoredResponse) -> Response:
    headers = {**stored.headers, REPLAYED_HEADER: "true"}
    return Response(
        stored.body, status_code=stored.status_code, headers=headers, media_type=stored.media_type
    )


async def answer_once(
    call: Call, key: str | None, request_digest: str, produce: Callable[[], Awaitable[Response]]
) -> Response:
    """Answer with `produce()` once per (account, key); see the module docstring for the contract."""
    if key is None:
        return await produce()
    store, scope = call.http.idempotency, call.who.account_id
    request_hash = f"{call.request.method} {call.request.url.path} {request_digest}"
    claim = await anyio.to_thread.run_sync(
        lambda: store.claim(
            scope=scope, key=key, request_hash=request_hash,
            lease_s=call.services.settings.reservation_timeout_s,
        )
    )
    if isinstance(claim, Replay):
        return _replayed(claim.response)
    if isinstance(claim, OtherBody):
        raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with another request")
    if isinstance(claim, InFlight):
        raise ApiError(
            409, "request_in_progress", "a request with this Idempotency-Key is still running; retry later",
            headers={"Retry-After": str(RETRY_AFTER_BUSY_S)},
        )
    return await _produce_claimed(call, key, claim, produce)


async def _produce_claimed(
    call: Call, key: str, claim: Claimed, produce: Callable[[], Awaitable[Response]]
) -> Response:
    store, scope = call.http.idempotency, call.who.account_id
    try:
        response = await produce()
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(lambda: store.abandon(scope=scope, key=key, claim=claim))
        raise
    if _retry_later(response):
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(lambda: store.abandon(scope=scope, key=key, claim=claim))
        return response
    stored = _stored(response)
    ttl_s = call.services.settings.idempotency_ttl_s
    with anyio.CancelScope(shield=True):  # it may have been charged: a client gone now still gets it later
        await anyio.to_thread.run_sync(
            lambda: store.complete(scope=scope, key=key, claim=claim, response=stored, ttl_s=ttl_s)
        )
    return response
