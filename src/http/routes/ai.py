"""`POST /api/ai-image`: a picture from a text prompt, made by the upstream AI service, as PNG.

The form (`prompt`, `style`, `size`, `quality`; no file) is small: it is read whole, capped at
`FORM_BYTES_MAX`. Every field is checked before anything is charged; the use case (`Generate.ai_image`)
checks that an upstream is configured (503 `ai_unavailable`, nothing charged), then reserve → upstream
→ capture, or release on any failure; under an `Idempotency-Key` a repeat gets the first answer, and
the upstream is never called twice for one key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from mosaic.commands import ai
from mosaic.commands.upstream import IMAGE_QUALITIES, IMAGE_SIZES
from mosaic.http.errors import BadRequest, PayloadTooLarge
from mosaic.http.idempotent import answer_once, file_response, payer
from mosaic.http.routing import Call, Endpoint

FORM_BYTES_MAX: Final = 64 * 1024
FORM_FIELDS_MAX: Final = 16
FORM_TYPES: Final = ("multipart/form-data", "application/x-www-form-urlencoded")

assert FORM_BYTES_MAX > 4 * ai.PROMPT_CHARS_MAX  # the longest prompt fits, in any UTF-8


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


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge("body_too_large", f"the form may hold at most {FORM_BYTES_MAX} bytes")


async def form_fields(request: Request) -> dict[str, str]:
    """The text fields of a small form (multipart or urlencoded); a file part or a repeat is a 400."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in FORM_TYPES:
        raise BadRequest(
            "invalid_form", "send the fields as a form (multipart/form-data, e.g. curl -F prompt=…)"
        )
    body = await _body(request)

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=0, max_fields=FORM_FIELDS_MAX)
    except MultiPartException as exc:
        raise BadRequest("invalid_form", f"the form cannot be read: {exc.message}") from None
    except HTTPException as exc:  # Starlette's wrapping of the same, inside an app
        raise BadRequest("invalid_form", f"the form cannot be read: {exc.detail}") from None
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            raise BadRequest("invalid_form", f"{name}: this route takes no file")
        if name in fields:
            raise BadRequest("invalid_form", f"{name}: send each field once")
        fields[name] = value
    await form.close()
    return fields


def form_digest(fields: Mapping[str, str]) -> str:
    """The request's identity for `Idempotency-Key`: its fields, in any order or encoding."""
    canonical = json.dumps(sorted(fields.items()), ensure_ascii=False).encode()
    return hashlib.sha256(canonical).hexdigest()


async def ai_image(call: Call) -> Response:
    fields = await form_fields(call.request)
    request_payer = payer(call)
    request = ai.parse_ai_image_request(fields)

    async def produce() -> Response:
        paid = await call.use_cases.generate.ai_image(request_payer, request)
        return file_response(paid, disposition="inline")

    return await answer_once(call, request_payer.key, form_digest(fields), produce)


AI_IMAGE_FORM: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string", "minLength": ai.PROMPT_CHARS_MIN, "maxLength": ai.PROMPT_CHARS_MAX},
        "style": {"type": "string", "enum": list(ai.style_names()), "default": "coloring"},
        "size": {"type": "string", "enum": list(IMAGE_SIZES), "default": "1024x1024"},
        "quality": {
            "type": "string", "enum": list(IMAGE_QUALITIES), "default": "low",
            "description": ", ".join(f"{q}: {c} credit(s)" for q, c in ai.COST_CREDITS_BY_QUALITY.items()),
        },
    },
}

ENDPOINTS = [
    Endpoint(
        "POST", "/api/ai-image", ai_image,
        "A picture from a text prompt by the upstream AI service (PNG; 1 / 3 / 10 credits by quality)",
        auth="api_key_or_jwt", form=AI_IMAGE_FORM, produces=("image/png",),
        errors=(400, 401, 402, 403, 409, 413, 422, 429, 502, 503), tags=("ai",),
    ),
]
