"""The parse step of the generation routes: form fields → options, uploads → screened photos, the
caller → who pays; and the multipart body's OpenAPI schema, derived from imaging's options.

Everything that can be refused is refused here, before any use case runs, so a bad request leaves
no event at all. Screening reads the image's header and structure, never its pixels.
"""

from __future__ import annotations

from typing import Any, Final

import anyio.to_thread

from mosaic.commands.generate import (
    BULK_IMAGES_MAX,
    IMAGING_ERRORS,
    BulkItem,
    BulkRequest,
    PageRequest,
    rejected,
)
from mosaic.domain.errors import Failure
from mosaic.http.errors import BadRequest
from mosaic.http.idempotent import payer
from mosaic.http.routing import Call
from mosaic.http.uploads import UPLOAD_BYTES_MAX, Form, Upload
from mosaic.imaging.options import (
    COLORS_MAX,
    COLORS_MIN,
    DEFAULTS,
    DENSITIES,
    DETAILS,
    MODES,
    OUTPUTS,
    PAGES,
    GenerateOptions,
    InvalidOption,
    parse_options,
)
from mosaic.imaging.palettes import PALETTE_CHARS_MAX
from mosaic.imaging.screen import ImageHeader, screen_image

IMAGE_FIELD: Final = "image"
BULK_FIELD: Final = "images"
GENERATION_ERRORS: Final = (400, 401, 402, 403, 409, 413, 422, 429, 502, 503)  # 502: mode=ai


def options_from(form: Form) -> GenerateOptions:
    try:
        return parse_options(form.fields)
    except InvalidOption as exc:
        raise rejected(exc) from None


async def screened(upload: Upload) -> ImageHeader:
    """Screen an upload in a thread (a CRC walk over 10 MB is milliseconds, but not on the loop)."""
    data = await anyio.to_thread.run_sync(upload.read)
    try:
        return await anyio.to_thread.run_sync(screen_image, data)
    except IMAGING_ERRORS as exc:
        raise rejected(exc) from None


async def page_request(call: Call, form: Form) -> PageRequest:
    request_payer = payer(call)
    options = options_from(form)
    if not form.uploads:
        raise BadRequest("missing_image", "send the photo in the 'image' field (curl -F image=@photo.jpg)")
    upload = form.uploads[0]
    return PageRequest(request_payer, options, upload, await screened(upload))


async def bulk_request(call: Call, form: Form) -> BulkRequest:
    """Every upload screened: one that is refused is reported in the manifest and never charged."""
    request_payer = payer(call)
    options = options_from(form)
    if options.mode == "ai":
        raise BadRequest("invalid_option", "mode: ai is not available for bulk generation")
    if not form.uploads:
        raise BadRequest("missing_images", f"send 1 to {BULK_IMAGES_MAX} photos in the 'images' field")
    items = []
    for upload in form.uploads:
        try:
            items.append(BulkItem(upload, header=await screened(upload)))
        except Failure as refusal:
            items.append(BulkItem(upload, refusal=refusal))
    return BulkRequest(request_payer, options, items)


def form_schema(file_field: str, *, many: bool) -> dict[str, Any]:
    """The multipart body of the generation routes, for OpenAPI."""
    binary = {"type": "string", "format": "binary"}
    many_images = {"type": "array", "items": binary, "maxItems": BULK_IMAGES_MAX}
    image: dict[str, Any] = many_images if many else binary
    image["description"] = f"PNG, JPEG or WebP; at most {UPLOAD_BYTES_MAX // (1024 * 1024)} MB each"
    return {
        "type": "object",
        "required": [file_field],
        "properties": {
            file_field: image,
            "mode": {"type": "string", "enum": list(MODES), "default": DEFAULTS.mode},
            "output": {"type": "string", "enum": list(OUTPUTS), "default": DEFAULTS.output},
            "colors": {
                "type": "integer", "minimum": COLORS_MIN, "maximum": COLORS_MAX, "default": DEFAULTS.colors
            },
            "page": {"type": "string", "enum": list(PAGES), "default": DEFAULTS.page},
            "preset": {"type": "string", "description": "overrides the other fields; see /api/presets"},
            "detail": {"type": "string", "enum": list(DETAILS), "default": DEFAULTS.detail},
            "density": {"type": "string", "enum": list(DENSITIES), "default": DEFAULTS.density},
            "hint": {"type": "string", "description": "subject hint for mode=ai"},
            "palette": {
                "type": "string", "maxLength": PALETTE_CHARS_MAX,
                "description": "a paint set (see /api/palettes) or 4 to 64 colors #rrggbb,#rrggbb,…",
            },
        },
    }
