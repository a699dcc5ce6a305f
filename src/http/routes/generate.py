"""`POST /api/generate`: one photo → the page asked for, paid for with one credit.

The flow (DESIGN "The ledger's rules" 2 and 4): stream the form (10 MB cap while reading) → parse
every option → screen the image from its header and structure (never its pixels) → claim the
`Idempotency-Key` → admit into the worker pool (503 when full) → reserve → generate in a worker
process → capture, or release on any failure. Everything that can be refused is refused before the
reservation, so a bad request leaves no event at all.

`mode=ai` goes through the upstream AI service instead of the local pipeline (`generate_ai_page`).
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any, Final

import anyio.to_thread
from starlette.responses import Response

from mosaic.commands import ai
from mosaic.commands.ai import ai_coloring
from mosaic.commands.generation import COST_CREDITS_BY_MODE
from mosaic.commands.ledger import request_id_for
from mosaic.commands.paid import Charge, Paid, PaidWorkFailed
from mosaic.domain.errors import DomainError
from mosaic.http.errors import (
    IMAGING_ERRORS,
    ApiError,
    api_error_for_imaging,
    error_response,
    request_id_of,
    response_for_domain_error,
)
from mosaic.http.idempotent import answer_once, idempotency_key
from mosaic.http.routing import Call, Endpoint
from mosaic.http.uploads import Form, Upload, read_form
from mosaic.imaging.options import (
    COLORS_DEFAULT,
    COLORS_MAX,
    COLORS_MIN,
    DENSITIES,
    DETAILS,
    MODES,
    OUTPUTS,
    PAGES,
    GenerateOptions,
    InvalidOption,
    parse_options,
)
from mosaic.imaging.pipeline import MEDIA_TYPES, Rendered
from mosaic.imaging.screen import ImageHeader, screen_image

log = logging.getLogger(__name__)

FILE_STEM_CHARS_MAX: Final = 64
_UNSAFE_CHARS: Final = re.compile(r"[^A-Za-z0-9._-]+")


def safe_stem(filename: str, fallback: str = "image") -> str:
    """The upload's name without folders or extension, in characters safe in any file system."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    safe = _UNSAFE_CHARS.sub("_", stem).strip("._-")[:FILE_STEM_CHARS_MAX]
    return safe or fallback


def options_from(form: Form) -> GenerateOptions:
    try:
        return parse_options(form.fields)
    except InvalidOption as exc:
        raise api_error_for_imaging(exc) from None


async def screened(upload: Upload) -> ImageHeader:
    """Screen an upload in a thread (a CRC walk over 10 MB is milliseconds, but not on the loop)."""
    data = await anyio.to_thread.run_sync(upload.read)
    try:
        return await anyio.to_thread.run_sync(screen_image, data)
    except IMAGING_ERRORS as exc:
        raise api_error_for_imaging(exc) from None


def summary_of(options: GenerateOptions, upload: Upload, header: ImageHeader) -> str:
    """What support staff see next to the charge."""
    preset = f" preset={options.preset}" if options.preset else ""
    return (
        f"mode={options.mode} output={options.output} colors={options.colors} page={options.page} "
        f"detail={options.detail} density={options.density}{preset} "
        f"image={safe_stem(upload.filename)} {header.format} {header.width_px}x{header.height_px}"
    )


def charge_for(call: Call, *, tool: str, cost_credits: int, key: str | None, summary: str) -> Charge:
    """The charge of one request; with an Idempotency-Key its ledger request id derives from the key,
    so the ledger itself refuses to charge the key twice."""
    account_id = uuid.UUID(call.who.account_id)
    request_id = request_id_for(account_id, key) if key is not None else uuid.uuid4()
    return Charge(account_id, request_id, tool, cost_credits, summary)


def failure_response(call: Call, exc: Exception) -> Response:
    """The answer to work that failed after its credits were reserved (and then released)."""
    request_id = request_id_of(call.request)
    if isinstance(exc, IMAGING_ERRORS):  # the decoder found what screening could not
        api_error = api_error_for_imaging(exc)
        return error_response(api_error.status, api_error.code, api_error.message, request_id)
    if isinstance(exc, DomainError):
        return response_for_domain_error(exc, request_id)
    log.error("generation failed after its reservation (released): %r", exc)
    return error_response(
        500, "generation_failed",
        "the image could not be generated; the reserved credits were released, nothing was charged",
        request_id,
    )


def credit_headers(charged_credits: int, remaining_credits: int) -> dict[str, str]:
    return {"X-Credits-Charged": str(charged_credits), "X-Credits-Remaining": str(remaining_credits)}


def file_response(paid: Paid[Rendered], filename: str) -> Response:
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        **credit_headers(paid.charged_credits, paid.remaining_credits),
    }
    return Response(paid.value.data, media_type=paid.value.media_type, headers=headers)


async def _generate_paid(call: Call, upload: Upload, options: GenerateOptions, charge: Charge) -> Response:
    generations = call.http.generations
    with generations.admit(1):
        data = await anyio.to_thread.run_sync(upload.read)  # before reserving: nothing may fail between
        try:
            paid = await call.http.payments.pay_for_one(
                charge, lambda held: generations.in_pool(call.http.generate_job, data, options)
            )
        except PaidWorkFailed as failed:
            return failure_response(call, failed.cause)
    suffix = "" if options.output == "zip" else f"-{options.output}"
    filename = f"{safe_stem(upload.filename)}-{options.mode}{suffix}.{paid.value.extension}"
    return file_response(paid, filename)


async def generate_ai_page(call: Call, upload: Upload, options: GenerateOptions, charge: Charge) -> Response:
    """`mode=ai`: the photo → the upstream AI service's edits endpoint → a line-art page
    (`mosaic.commands.ai.ai_coloring`). Same contract as `answer_once`'s `produce`: raise while
    nothing is reserved (no upstream: 503 `ai_unavailable`; a full pool; 402), answer once reserved."""
    upstream = call.services.ai
    upstream.check_available()
    generations = call.http.generations
    with generations.admit(1):
        data = await anyio.to_thread.run_sync(upload.read)  # before reserving: nothing may fail between
        try:
            paid = await call.http.payments.pay_for_one(
                charge, lambda held: ai_coloring(upstream, generations.in_pool, data, options)
            )
        except PaidWorkFailed as failed:
            return failure_response(call, failed.cause)
    suffix = "" if options.output == "zip" else f"-{options.output}"
    return file_response(paid, f"{safe_stem(upload.filename)}-ai{suffix}.{paid.value.extension}")


def the_image(form: Form) -> Upload:
    if not form.uploads:
        raise ApiError(400, "missing_image", "send the photo in the 'image' field (curl -F image=@photo.jpg)")
    return form.uploads[0]


async def generate_page(call: Call) -> Response:
    form = await read_form(call.request, file_field="image", files_max=1)
    try:
        key = idempotency_key(call)
        options = options_from(form)
        upload = the_image(form)
        header = await screened(upload)
        summary = summary_of(options, upload, header)
        if options.mode == "ai":  # issue 6: the upstream AI service, not the local pipeline
            ai_cost = ai.COST_CREDITS_BY_QUALITY[ai.AI_COLORING_QUALITY]
            ai_charge = charge_for(call, tool="ai", cost_credits=ai_cost, key=key, summary=summary)
            return await answer_once(
                call, key, form.digest(), lambda: generate_ai_page(call, upload, options, ai_charge)
            )
        cost_credits = COST_CREDITS_BY_MODE[options.mode]
        charge = charge_for(call, tool=options.mode, cost_credits=cost_credits, key=key, summary=summary)
        return await answer_once(
            call, key, form.digest(), lambda: _generate_paid(call, upload, options, charge)
        )
    finally:
        form.close()


def form_schema(file_field: str, *, many: bool) -> dict[str, Any]:
    """The multipart body of the generation routes, for OpenAPI."""
    binary = {"type": "string", "format": "binary"}
    image: dict[str, Any] = {"type": "array", "items": binary, "maxItems": 50} if many else binary
    image["description"] = "PNG, JPEG or WebP; at most 10 MB each"
    return {
        "type": "object",
        "required": [file_field],
        "properties": {
            file_field: image,
            "mode": {"type": "string", "enum": list(MODES), "default": "hex"},
            "output": {"type": "string", "enum": list(OUTPUTS), "default": "zip"},
            "colors": {
                "type": "integer", "minimum": COLORS_MIN, "maximum": COLORS_MAX, "default": COLORS_DEFAULT
            },
            "page": {"type": "string", "enum": list(PAGES), "default": "letter"},
            "preset": {"type": "string", "description": "overrides the other fields; see /api/presets"},
            "detail": {"type": "string", "enum": list(DETAILS), "default": "standard"},
            "density": {"type": "string", "enum": list(DENSITIES), "default": "standard"},
            "hint": {"type": "string", "description": "subject hint for mode=ai"},
        },
    }


GENERATION_ERRORS: Final = (400, 401, 402, 403, 409, 413, 422, 429, 502, 503)  # 502: mode=ai

ENDPOINTS = [
    Endpoint(
        "POST", "/api/generate", generate_page,
        "A coloring page, color by number or mystery mosaic from one photo (1 credit)",
        auth="api_key_or_jwt", form=form_schema("image", many=False), produces=tuple(MEDIA_TYPES.values()),
        errors=(*GENERATION_ERRORS, 502), tags=("generate",),
    ),
]
