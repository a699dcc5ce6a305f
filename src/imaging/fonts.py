"""The one typeface of every raster page, and pre-rendered number stamps.

Pillow ships a scalable sans-serif (Aileron Regular, embedded in `PIL.ImageFont.load_default`), so the
pages look the same on every machine without a font file of ours or a download. Numbers on a page only
ever run 1..20, so each (text, size) is rasterised once and stamped with numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from mosaic.imaging.artwork import px_from_pt

FONT_SIZE_PX_MIN = 6
FONT_SIZE_PX_MAX = 400
STAMP_CACHE_MAX = 256


@dataclass(frozen=True, slots=True)
class Stamp:
    """A rasterised text: `alpha` (h, w) uint8 coverage, cropped to the ink."""

    alpha: NDArray[np.uint8]

    @property
    def width_px(self) -> int:
        return int(self.alpha.shape[1])

    @property
    def height_px(self) -> int:
        return int(self.alpha.shape[0])


def font_px_from_pt(size_pt: float) -> int:
    """Return the font size in 300 dpi pixels for `size_pt`, clamped to the supported range."""
    return int(min(FONT_SIZE_PX_MAX, max(FONT_SIZE_PX_MIN, round(px_from_pt(size_pt)))))


@lru_cache(maxsize=64)
def sans(size_px: int) -> ImageFont.FreeTypeFont:
    """Return Pillow's bundled scalable sans-serif at `size_px` pixels."""
    assert FONT_SIZE_PX_MIN <= size_px <= FONT_SIZE_PX_MAX, size_px
    font = ImageFont.load_default(size=size_px)
    assert isinstance(font, ImageFont.FreeTypeFont), "Pillow was built without FreeType"
    return font


@lru_cache(maxsize=STAMP_CACHE_MAX)
def stamp(text: str, size_px: int) -> Stamp:
    """Rasterise `text` at `size_px` and crop it to its ink bounding box."""
    font = sans(size_px)
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    width, height = max(1, right - left), max(1, bottom - top)
    mask = Image.new("L", (width, height), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font)
    alpha = np.asarray(mask, dtype=np.uint8).copy()
    alpha.setflags(write=False)
    return Stamp(alpha)


def text_width_px(text: str, size_px: int) -> int:
    """Return the advance width of `text` at `size_px`."""
    return round(sans(size_px).getlength(text))
