"""Raster pages (300 dpi PNG) from an `Artwork`: the puzzle, the answer, the legend and both on one page.

Everything is drawn with numpy on the label map, so a Letter page costs a fraction of a second: an
outline is where a pixel's label differs from its right or lower neighbour, widened to the line width
with a separable dilation; colors are one table lookup; numbers are pre-rendered stamps blended in.
"""

from __future__ import annotations

import io
import math
import zlib

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from mosaic.imaging.artwork import DPI, Artwork, Box, px_from_pt
from mosaic.imaging.fonts import font_px_from_pt, stamp
from mosaic.imaging.legend import draw_footer, draw_legend_band, footer_text, legend_entries

PNG_COMPRESS_LEVEL = 6
# Run-length matching only: pages are flat color, so it costs a third less time than zlib's default
# strategy for about a quarter more bytes (measured on Letter pages of every mode).
PNG_COMPRESS_STRATEGY = zlib.Z_RLE
LINE_WIDTH_PX_MIN = 1
LINE_WIDTH_PX_MAX = 40
LINE_WIDTH_PX_SLACK = 1e-6  # float noise: 0.72 pt is 3 px, not 3.0000000000000004 rounded up to 4
NUMBER_GREY = 128  # mid-grey: legible on white, does not show through light colors once painted
INK_GREY = 0
ANSWER_OUTLINE_RGB = np.array([72, 72, 72], dtype=np.uint8)
ANSWER_OUTLINE_FRACTION = 1 / 3  # answer outlines are a third of the puzzle's line width


def line_width_px(artwork: Artwork) -> int:
    """Return the puzzle outline width in print pixels: the fewest that are at least the asked pt.

    Rounded up, never to nearest: 0.75 pt is 3.125 px, and 3 px would print 0.72 pt.
    """
    width = math.ceil(px_from_pt(artwork.line_width_pt) - LINE_WIDTH_PX_SLACK)
    return int(min(LINE_WIDTH_PX_MAX, max(LINE_WIDTH_PX_MIN, width)))


def outline_mask(labels: NDArray[np.int32], *, width_px: int) -> NDArray[np.bool_]:
    """Return (H, W) bool: True on the `width_px` wide lines centred on the borders between regions.

    A pixel is a border pixel where its label differs from its right or lower neighbour; the dilation
    then widens each border symmetrically, so both neighbours share the line.
    """
    assert labels.ndim == 2 and 1 <= width_px <= LINE_WIDTH_PX_MAX
    border = np.zeros(labels.shape, dtype=bool)
    border[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    border[:-1, :] |= labels[:-1, :] != labels[1:, :]
    if width_px == 1:
        return border
    kernel = np.ones((width_px, width_px), dtype=np.uint8)
    widened = np.asarray(cv2.dilate(border.view(np.uint8), kernel), dtype=np.uint8)
    return widened.view(bool)


def number_boxes(artwork: Artwork) -> NDArray[np.int32]:
    """Return (R, 4) int32 `x0, y0, x1, y1` (end exclusive, `labels` coordinates) of each number's ink.

    The glyphs' ink box is centred on the region's anchor; renderers and rule checks share this.
    """
    size_px = font_px_from_pt(artwork.number_size_pt)
    boxes = np.zeros((artwork.region_count, 4), dtype=np.int32)
    for region in range(artwork.region_count):
        glyphs = stamp(str(artwork.number_of(int(artwork.region_color[region]))), size_px)
        x, y = artwork.anchors_xy[region]
        x0 = round(float(x) - (glyphs.width_px - 1) / 2)
        y0 = round(float(y) - (glyphs.height_px - 1) / 2)
        boxes[region] = (x0, y0, x0 + glyphs.width_px, y0 + glyphs.height_px)
    return boxes


def _stamp_numbers(art: NDArray[np.uint8], artwork: Artwork, *, grey: int) -> None:
    """Blend every region's number into the (H, W) uint8 view `art`, darkening only (in place)."""
    size_px = font_px_from_pt(artwork.number_size_pt)
    height, width = art.shape
    for region, (x0, y0, x1, y1) in enumerate(number_boxes(artwork)):
        alpha = stamp(str(artwork.number_of(int(artwork.region_color[region]))), size_px).alpha
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
        if cx0 >= cx1 or cy0 >= cy1:
            continue
        cover = alpha[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0].astype(np.uint16)
        tone = (255 - (cover * (255 - grey) + 127) // 255).astype(np.uint8)
        np.minimum(art[cy0:cy1, cx0:cx1], tone, out=art[cy0:cy1, cx0:cx1])


def _frame(page: NDArray[np.uint8], box: Box, *, width_px: int, value: int) -> None:
    """Draw a `width_px` frame just outside `box` on `page` (in place): the picture's outer outline."""
    x0, y0 = max(0, box.x - width_px), max(0, box.y - width_px)
    x1, y1 = box.x + box.width + width_px, box.y + box.height + width_px
    page[y0 : box.y, x0:x1] = value
    page[box.y + box.height : y1, x0:x1] = value
    page[y0:y1, x0 : box.x] = value
    page[y0:y1, box.x + box.width : x1] = value


def _art_view(page: NDArray[np.uint8], box: Box) -> NDArray[np.uint8]:
    return page[box.y : box.y + box.height, box.x : box.x + box.width]


def puzzle_grey(artwork: Artwork) -> NDArray[np.uint8]:
    """Return the (page H, page W) uint8 puzzle: black outlines (or the line art), grey numbers."""
    page = np.full((artwork.page.height_px, artwork.page.width_px), 255, dtype=np.uint8)
    art = _art_view(page, artwork.box)
    if artwork.ink is not None:
        art[artwork.ink] = INK_GREY
    else:
        art[outline_mask(artwork.labels, width_px=line_width_px(artwork))] = INK_GREY
    if artwork.numbered:
        _stamp_numbers(art, artwork, grey=NUMBER_GREY)
    _frame(page, artwork.box, width_px=line_width_px(artwork), value=INK_GREY)
    return page


def mystery_page(artwork: Artwork, *, title: str = "") -> Image.Image:
    """Return the numbered puzzle page (mode "L"); for line art, the coloring page itself."""
    image = Image.fromarray(puzzle_grey(artwork), mode="L")
    draw_footer(image, artwork.page.band, footer_text(artwork, title))
    return image


def answer_rgb(artwork: Artwork) -> NDArray[np.uint8]:
    """Return the (page H, page W, 3) uint8 solved page: regions in their colors, thin outlines."""
    page = np.full((artwork.page.height_px, artwork.page.width_px, 3), 255, dtype=np.uint8)
    art = _art_view(page, artwork.box)
    lut = artwork.palette_rgb[artwork.region_color]
    art[...] = np.take(lut, artwork.labels, axis=0)
    if artwork.ink is not None:
        art[artwork.ink] = INK_GREY
    else:
        thin_px = max(LINE_WIDTH_PX_MIN, round(line_width_px(artwork) * ANSWER_OUTLINE_FRACTION))
        art[outline_mask(artwork.labels, width_px=thin_px)] = ANSWER_OUTLINE_RGB
    _frame(page, artwork.box, width_px=line_width_px(artwork), value=INK_GREY)
    return page


def answer_page(artwork: Artwork, *, title: str = "") -> Image.Image:
    """Return the solved page (RGB); for line art, the colored reference with the ink on top."""
    image = Image.fromarray(answer_rgb(artwork), mode="RGB")
    draw_footer(image, artwork.page.band, footer_text(artwork, title))
    return image


def full_page(artwork: Artwork, *, title: str = "") -> Image.Image:
    """Return the puzzle with its legend in the band below it, on one page (RGB)."""
    image = Image.fromarray(puzzle_grey(artwork), mode="L").convert("RGB")
    draw_legend_band(image, artwork.page.band, legend_entries(artwork), mode=artwork.mode)
    draw_footer(image, artwork.page.band, footer_text(artwork, title))
    return image


def png_bytes(image: Image.Image) -> bytes:
    """Encode `image` as PNG with 300 dpi metadata and no timestamp (same pixels → same bytes)."""
    buffer = io.BytesIO()
    image.save(
        buffer,
        format="PNG",
        dpi=(DPI, DPI),
        compress_level=PNG_COMPRESS_LEVEL,
        compress_type=PNG_COMPRESS_STRATEGY,
    )
    return buffer.getvalue()
