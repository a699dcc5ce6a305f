"""`POST /api/ai-image`: a picture from a text prompt, made by the upstream AI service, as PNG.

The form (`prompt`, `style`, `size`, `quality`; no file) is small: it is read whole, capped at
`FORM_BYTES_MAX`. Every field is checked before anything is charged; then the availability of the
upstream (503 `ai_unavailable`, nothing charged); then reserve → upstream → capture, or release on
any failure (`Generations.charged`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Final

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from mosaic.commands import ai
from mosaic.commands.generation import Charge, Generations
from mosaic.commands.ledger import request_id_for
from mosaic.http.errors import ApiError
from mosaic.http.routing import Call, Endpoint

FORM_BYTES_MAX: Final = 64 * 1024
FORM_FIELDS_MAX: Final = 16
FORM_TYPES: Final = ("multipart/form-data", "application/x-www-form-urlencoded")
IDEMPOTENCY_KEY_CHARS_MAX: Final = 255

assert FORM_BYTES_MAX > 4 * ai.PROMPT_CHARS_MAX  # the longest prompt fits, in any UTF-8


def _generations(call: Call) -> Generations:
    # Interim: only the charging flow of `Generations` is used here (no pool job is submitted);
    # replaced by the app's one instance once the generation endpoints wire it.
    state = call.request.app.state
    if not hasattr(state, "ai_generations"):
        state.ai_generations = Generations(call.services.ledger, workers=1)
    generations: Generations = state.ai_generations
    return generations


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > FORM_BYTES_MAX:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > FORM_BYTES_MAX:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large() -> ApiError:
    return ApiError(413, "body_too_large", f"the form may hold at most {FORM_BYTES_MAX} bytes")


async def form_fields(request: Request) -> dict[str, str]:
    """The text fields of a small form (multipart or urlencoded); a file part or a repeat is a 400."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in FORM_TYPES:
        raise ApiError(
            400, "invalid_form", "send the fields as a form (multipart/form-data, e.g. curl -F prompt=…)"
        )
    body = await _body(request)

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=0, max_fields=FORM_FIELDS_MAX)
    except MultiPartException as exc:
        raise ApiError(400, "invalid_form", f"the form cannot be read: {exc.message}") from None
    except HTTPException as exc:  # Starlette's wrapping of the same, inside an app
        raise ApiError(400, "invalid_form", f"the form cannot be read: {exc.detail}") from None
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            raise ApiError(400, "invalid_form", f"{name}: this route takes no file")
        if name in fields:
            raise ApiError(400, "invalid_form", f"{name}: send each field once")
        fields[name] = value
    await form.close()
    return fields


def request_id_of_call(call: Call, account_id: uuid.UUID) -> uuid.UUID:
    """The request's id: derived from its `Idempotency-Key`, or new."""
    key = call.request.headers.get("idempotency-key")
    if key is None:
        return uuid.uuid4()
    if not 0 < len(key) <= IDEMPOTENCY_KEY_CHARS_MAX or not key.isprintable():
        limit = IDEMPOTENCY_KEY_CHARS_MAX
        raise ApiError(
            400, "invalid_idempotency_key", f"Idempotency-Key must be 1 to {limit} printable characters"
        )
    return request_id_for(account_id, key)


def credit_headers(charged_credits: int, remaining_credits: int) -> Mapping[str, str]:
    return {"X-Credits-Charged": str(charged_credits), "X-Credits-Remaining": str(remaining_credits)}


async def ai_image(call: Call) -> Response:
    request = ai.parse_ai_image_request(await form_fields(call.request))
    upstream = call.services.ai
    upstream.check_available()
    account_id = uuid.UUID(call.who.account_id)
    charge = Charge(
        account_id=account_id,
        request_id=request_id_of_call(call, account_id),
        tool=ai.AI_IMAGE_TOOL,
        cost_credits=request.cost_credits,
        summary=request.summary,
    )
    png, charged = await _generations(call).charged(charge, lambda: ai.ai_image(upstream, request))
    headers = {
        **credit_headers(charged.charged_credits, charged.remaining_credits),
        "Content-Disposition": 'inline; filename="ai-image.png"',
    }
    return Response(png, media_type="image/png", headers=dict(headers))


ENDPOINTS = [
    Endpoint(
        "POST", "/api/ai-image", ai_image,
        "A picture from a text prompt by the upstream AI service (PNG; 1 / 3 / 10 credits by quality)",
        auth="api_key_or_jwt", errors=(400, 401, 402, 403, 409, 413, 422, 429, 502, 503), tags=("ai",),
    ),
]
