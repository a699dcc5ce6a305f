"""The playground: a photo → a page, shown here (the mystery sheet and its answer side by side), what
it cost, and the file to download; the presets as pictures; the AI prompt form where an upstream is
configured. The same use cases (and the same charge) as `/api/generate` and `/api/ai-image`."""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from starlette.responses import Response

from mosaic.commands import ai
from mosaic.commands.generate import PageRequest, PaidFile, as_failure
from mosaic.commands.idempotency import Payer
from mosaic.commands.paid import PaidWorkFailed
from mosaic.domain.errors import Failure
from mosaic.http.errors import BadRequest
from mosaic.http.generation import IMAGE_FIELD, options_from, screened
from mosaic.http.uploads import uploaded_form
from mosaic.http.web.pages import PageCall, PageRoute
from mosaic.http.web.session import CSRF_FIELD
from mosaic.imaging.options import (
    COLORS_MAX,
    COLORS_MIN,
    DEFAULTS,
    DENSITIES,
    DETAILS,
    ORIENTATIONS,
    OUTPUTS,
    PAGES,
)
from mosaic.imaging.palettes import catalogue
from mosaic.imaging.presets import presets_catalogue

# mode=ai needs an upstream: the AI form below
MODES_SHOWN: Final = ("hex", "voronoi", "square", "cbn", "lineart")
OUTPUTS_SHOWN: Final = tuple(output for output in OUTPUTS if output != "book")  # a book is of many photos
# What each mode reads (the others are ignored by it, so they are not shown for it).
FIELDS_BY_MODE: Final = {
    "hex": ("colors", "density", "palette"), "voronoi": ("colors", "density", "palette"),
    "square": ("colors", "density", "palette"), "cbn": ("colors", "detail", "palette"),
    "lineart": ("detail",),
}
PREVIEWED_MEMBERS: Final = (("mystery.png", "The mystery sheet"), ("answer.png", "The answer"))
CARD_HEADERS: Final = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}


PaidFileMaker = Callable[[], Awaitable[PaidFile]]


@dataclass(frozen=True, slots=True)
class Result:
    filename: str
    download: str  # a data: URL, so the file needs no second request (and no state on this server)
    previews: list[tuple[str, str]]  # (caption, data: URL)
    charged: int
    remaining: int


def _data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def _result(paid: PaidFile) -> Result:
    previews: list[tuple[str, str]] = []
    if paid.media_type == "application/zip":
        with zipfile.ZipFile(io.BytesIO(paid.data)) as bundle:
            names = set(bundle.namelist())
            previews = [(caption, _data_url("image/png", bundle.read(name)))
                        for name, caption in PREVIEWED_MEMBERS if name in names]
    elif paid.media_type.startswith("image/"):
        previews = [("Your page", _data_url(paid.media_type, paid.data))]
    return Result(paid.filename, _data_url(paid.media_type, paid.data), previews,
                  paid.charged_credits, paid.remaining_credits)


def _render(call: PageCall, *, status: int = 200, result: Result | None = None,
            chosen: dict[str, str] | None = None, failure: Failure | None = None) -> Response:
    context = dict(
        result=result, chosen={**_DEFAULT_CHOICES, **(chosen or {})}, presets=presets_catalogue(),
        modes=MODES_SHOWN, outputs=OUTPUTS_SHOWN, pages=PAGES, orientations=ORIENTATIONS, details=DETAILS,
        densities=DENSITIES, paint_sets=catalogue(),
        colors_min=COLORS_MIN, colors_max=COLORS_MAX, fields_by_mode=FIELDS_BY_MODE,
        styles=ai.style_names(), qualities=tuple(ai.COST_CREDITS_BY_QUALITY),
    )
    if failure is not None:
        return call.failed("playground.html", failure, **context)
    return call.render("playground.html", status=status, **context)


_DEFAULT_CHOICES: Final = {
    "mode": "cbn", "output": "zip", "colors": str(DEFAULTS.colors), "page": DEFAULTS.page,
    "detail": DEFAULTS.detail, "density": DEFAULTS.density, "preset": "", "orientation": DEFAULTS.orientation,
    "palette": "", "own_colors": "",
}
OWN_COLORS_FIELD: Final = "own_colors"  # the page's own: sent on as `palette=`, which it overrides


async def playground(call: PageCall) -> Response:
    return _render(call)


async def _paid(call: PageCall, produce: PaidFileMaker) -> PaidFile:
    try:
        return await produce()
    except PaidWorkFailed as failed:  # reserved, then released: nothing was charged
        raise as_failure(failed.cause) from None


async def make_page(call: PageCall) -> Response:
    async with uploaded_form(call.request, file_field=IMAGE_FIELD, files_max=1) as form:
        call.check_csrf(form.fields.pop(CSRF_FIELD, None))
        chosen = {name: form.fields.get(name, "") for name in _DEFAULT_CHOICES}
        if own_colors := form.fields.pop(OWN_COLORS_FIELD, "").strip():
            form.fields["palette"] = own_colors
        try:
            if not form.uploads:
                raise BadRequest("missing_image", "choose a photo to make the page from")
            upload = form.uploads[0]
            request = PageRequest(Payer(UUID(call.who.account_id)), options_from(form), upload,
                                  await screened(upload))
            paid = await _paid(call, lambda: call.http.use_cases.generate.one(request))
        except Failure as failure:
            return _render(call, chosen=chosen, failure=failure)
    return _render(call, result=_result(paid), chosen=chosen)


async def ai_image(call: PageCall) -> Response:
    try:
        request = ai.parse_ai_image_request(call.fields)
        payer = Payer(UUID(call.who.account_id))
        paid = await _paid(call, lambda: call.http.use_cases.generate.ai_image(payer, request))
    except Failure as failure:
        return _render(call, failure=failure)
    return _render(call, result=_result(paid))


async def preset_card(call: PageCall) -> Response:
    name = call.request.path_params["name"]
    card = await call.http.use_cases.generate.preset_card(name)
    return Response(card, media_type="image/png", headers=CARD_HEADERS)


ROUTES = [
    PageRoute("GET", "/playground", playground),
    PageRoute("POST", "/playground", make_page, read_form=False),
    PageRoute("POST", "/playground/ai", ai_image),
    PageRoute("GET", "/presets/{name}.png", preset_card, signed_in=False),
]
