"""AI images through the upstream: text → PNG (`/api/ai-image`) and photo → coloring page (`mode=ai`).

What each costs and how each prompt reads are data (`COST_CREDITS_BY_QUALITY`, `ai_styles.toml`).
Charging is the caller's: these functions are the `work` of `Payments.pay_for_one`, so any exception
they raise (the upstream's, or a picture that does not decode) releases the reservation.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final, TypeVar

import anyio.to_thread

from mosaic.commands.upstream import (
    IMAGE_QUALITIES,
    IMAGE_SIZES,
    ImageQuality,
    ImageSize,
    Upstream,
    UpstreamFailed,
)
from mosaic.domain.errors import InvalidInput
from mosaic.imaging.aiimage import (
    UnusableDrawing,
    UnusablePhoto,
    UpstreamPhoto,
    photo_for_upstream,
    png_from_upstream,
    render_ai_coloring,
)
from mosaic.imaging.decode import ImageRejected
from mosaic.imaging.options import MODES, GenerateOptions
from mosaic.imaging.pipeline import Rendered

T = TypeVar("T")

STYLES_FILE: Final = resources.files("mosaic.data").joinpath("ai_styles.toml")
COST_CREDITS_BY_QUALITY: Final[Mapping[ImageQuality, int]] = {"low": 1, "medium": 3, "high": 10}
PROMPT_CHARS_MIN: Final = 3
PROMPT_CHARS_MAX: Final = 1000
TEMPLATE_CHARS_MAX: Final = 2000
AI_IMAGE_TOOL: Final = "ai-image"
AI_COLORING_QUALITY: Final[ImageQuality] = "low"  # mode=ai costs what a standard AI image costs
FIELDS: Final = ("prompt", "style", "size", "quality")

assert set(COST_CREDITS_BY_QUALITY) == set(IMAGE_QUALITIES)

# Runs a picklable function in a worker process (`Generations.in_pool`).
InPool = Callable[..., Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Templates:
    styles: Mapping[str, str]  # style → template with `{prompt}`
    coloring_page: str  # template with `{subject}`
    default_subject: str


@functools.lru_cache(maxsize=1)
def templates() -> Templates:
    with STYLES_FILE.open("rb") as f:
        data = tomllib.load(f)
    styles = {str(name): str(style["template"]) for name, style in data["styles"].items()}
    page = data["coloring_page"]
    for template in styles.values():
        assert "{prompt}" in template and len(template) <= TEMPLATE_CHARS_MAX, template
    assert "{subject}" in page["template"]
    return Templates(styles, str(page["template"]), str(page["default_subject"]))


def style_names() -> tuple[str, ...]:
    return tuple(templates().styles)


@dataclass(frozen=True, slots=True)
class AiImageRequest:
    prompt: str
    style: str = "coloring"
    size: ImageSize = "1024x1024"
    quality: ImageQuality = "low"

    @property
    def cost_credits(self) -> int:
        return COST_CREDITS_BY_QUALITY[self.quality]

    @property
    def upstream_prompt(self) -> str:
        # str.replace, not format: braces in the client's prompt are just text.
        return templates().styles[self.style].replace("{prompt}", self.prompt)

    @property
    def summary(self) -> str:
        """The parameters, for support staff next to the charge (the prompt shortened)."""
        short = self.prompt if len(self.prompt) <= 60 else self.prompt[:59] + "…"
        return f"style={self.style} size={self.size} quality={self.quality} prompt={short!r}"


def parse_ai_image_request(fields: Mapping[str, str]) -> AiImageRequest:
    """The documented fields with their defaults; `InvalidInput` names the field and what it accepts.

    An empty field means "not given" (HTML forms send empty selects), as for `/api/generate`.
    """
    prompt = " ".join(fields.get("prompt", "").split())
    if not PROMPT_CHARS_MIN <= len(prompt) <= PROMPT_CHARS_MAX:
        raise InvalidInput(
            f"prompt: is {len(prompt)} characters; send {PROMPT_CHARS_MIN} to {PROMPT_CHARS_MAX}"
        )
    if not prompt.isprintable():
        raise InvalidInput("prompt: contains control characters")
    style = _choice(fields, "style", style_names(), "coloring")
    size = _choice(fields, "size", IMAGE_SIZES, "1024x1024")
    quality = _choice(fields, "quality", IMAGE_QUALITIES, "low")
    return AiImageRequest(prompt=prompt, style=style, size=size, quality=quality)


def _choice(fields: Mapping[str, str], field: str, accepted: tuple[T, ...], default: T) -> T:
    value = fields.get(field, "").strip()
    if value == "":
        return default
    for choice in accepted:
        if value == choice:
            return choice
    raise InvalidInput(f"{field}: {value!r} is not one of {', '.join(map(str, accepted))}")


async def ai_image(upstream: Upstream, request: AiImageRequest) -> bytes:
    """A PNG of `request` from the upstream, checked and re-encoded (in a thread: it is CPU work)."""
    picture = await upstream.generate(
        prompt=request.upstream_prompt, size=request.size, quality=request.quality
    )
    return await _checked(png_from_upstream, picture)


async def ai_coloring(
    upstream: Upstream, in_pool: InPool, image_bytes: bytes, options: GenerateOptions
) -> Rendered:
    """`mode=ai`: the photo → the upstream's edits endpoint → a coloring page in `options.output`.

    `image_bytes` has passed the upload checks; `in_pool` runs the two CPU steps (preparing the
    photo, drawing the page) in worker processes. Raises the upstream's errors (`UpstreamFailed`,
    `UpstreamRefused`, `UpstreamBusy`, `AiUnavailable`), and `UpstreamFailed` if its picture does
    not decode.
    """
    upstream.check_available()
    try:
        photo: UpstreamPhoto = await in_pool(photo_for_upstream, image_bytes)
    except UnusablePhoto as exc:
        raise InvalidInput(f"image: {exc}") from None
    page = templates()
    subject = options.hint.strip() or page.default_subject
    drawing = await upstream.edit(
        image_png=photo.png,
        prompt=page.coloring_page.replace("{subject}", subject),
        size=_size(photo.size),
        quality=AI_COLORING_QUALITY,
    )
    try:
        rendered: Rendered = await in_pool(render_ai_coloring, drawing, photo.rgb, options)
    except UnusableDrawing as exc:
        raise UpstreamFailed(f"the AI service's picture is unusable: {exc}") from None
    return rendered


def _size(name: str) -> ImageSize:
    for size in IMAGE_SIZES:
        if size == name:
            return size
    raise AssertionError(name)


async def _checked(convert: Callable[[bytes], bytes], picture: bytes) -> bytes:
    try:
        return await anyio.to_thread.run_sync(convert, picture)
    except ImageRejected as exc:
        raise UpstreamFailed(f"the AI service's picture is unusable: {exc.message}") from None


def available_modes(upstream: Upstream) -> tuple[str, ...]:
    """The generation modes this server can run: `ai` only with an upstream configured."""
    return tuple(mode for mode in MODES if mode != "ai" or upstream.configured)
