"""A finished-looking preview for showing off: the answer page on a sheet with a soft drop shadow.

Downscaled from the answer page (a preview, not a print), laid on a warm neutral background and turned
by a small fixed angle. No randomness: the same artwork gives the same bytes. The shadow is blurred at
a quarter of the size and scaled up (a blur that wide has no detail to lose), which keeps it cheap.
"""

from __future__ import annotations

from PIL import Image, ImageFilter

from mosaic.imaging.artwork import Artwork
from mosaic.imaging.render import answer_page

BEAUTY_REDUCE = 3  # 300 dpi page → 100 dpi preview: 850×1100 px for Letter
BEAUTY_PAD_PX = 170
BEAUTY_BACKGROUND_RGB = (233, 229, 222)
BEAUTY_SHADOW_RGB = (40, 32, 24)
BEAUTY_SHADOW_OFFSET_PX = (14, 22)
BEAUTY_SHADOW_BLUR_PX = 22
BEAUTY_SHADOW_SCALE = 4
BEAUTY_SHADOW_ALPHA = 95
BEAUTY_ANGLE_DEG = -2.0


def _shadow_mask(sheet_mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The sheet's silhouette, offset, faded and blurred, on a canvas of `size` ("L")."""
    small = (size[0] // BEAUTY_SHADOW_SCALE, size[1] // BEAUTY_SHADOW_SCALE)
    silhouette = sheet_mask.reduce(BEAUTY_SHADOW_SCALE).point(lambda a: a * BEAUTY_SHADOW_ALPHA // 255)
    canvas = Image.new("L", small, 0)
    dx, dy = BEAUTY_SHADOW_OFFSET_PX
    at = ((BEAUTY_PAD_PX + dx) // BEAUTY_SHADOW_SCALE, (BEAUTY_PAD_PX + dy) // BEAUTY_SHADOW_SCALE)
    canvas.paste(silhouette, at)
    blurred = canvas.filter(ImageFilter.GaussianBlur(BEAUTY_SHADOW_BLUR_PX / BEAUTY_SHADOW_SCALE))
    return blurred.resize(size, Image.Resampling.BILINEAR)


def beauty_from_page(page: Image.Image) -> Image.Image:
    """Return an RGB preview of the printed `page` (RGB, 300 dpi) lying on a table, with a shadow."""
    sheet = page.convert("RGB").reduce(BEAUTY_REDUCE)
    turn = {"resample": Image.Resampling.BILINEAR, "expand": True}
    mask = Image.new("L", sheet.size, 255).rotate(BEAUTY_ANGLE_DEG, fillcolor=0, **turn)  # type: ignore[arg-type]
    sheet = sheet.rotate(BEAUTY_ANGLE_DEG, fillcolor=(255, 255, 255), **turn)  # type: ignore[arg-type]
    size = (sheet.width + 2 * BEAUTY_PAD_PX, sheet.height + 2 * BEAUTY_PAD_PX)
    canvas = Image.new("RGB", size, BEAUTY_BACKGROUND_RGB)
    canvas.paste(Image.new("RGB", size, BEAUTY_SHADOW_RGB), (0, 0), _shadow_mask(mask, size))
    canvas.paste(sheet, (BEAUTY_PAD_PX, BEAUTY_PAD_PX), mask)
    return canvas


def beauty_image(artwork: Artwork, *, title: str = "") -> Image.Image:
    """Return an RGB preview of the solved page of `artwork` lying on a table, with a soft shadow."""
    return beauty_from_page(answer_page(artwork, title=title))
