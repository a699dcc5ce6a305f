"""The puzzle as an SVG document: one `<path>` per region, one `<text>` per number.

The viewBox is the page in points (612×792 Letter, 595×842 A4) and the width and height are in
millimetres, so it prints at size. Paths carry `data-number` and `data-fill` (the answer color), so an
app can color the puzzle in; regions with holes use `fill-rule="evenodd"`. Line art's ink is a
drawing with open strokes that no region outline carries, so it is embedded once as a lossless
300 dpi PNG over the (unstroked) region paths, as in the PDF.
"""

from __future__ import annotations

import base64
import io
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from mosaic.imaging.artwork import MM_PER_INCH, PT_PER_INCH, Artwork, pt_from_px
from mosaic.imaging.colornames import hex_from_rgb
from mosaic.imaging.legend import MODE_TITLES
from mosaic.imaging.trace import Outline, page_pt_from_art_px, region_outlines

NUMBER_RGB_HEX = "#808080"
DIGIT_CENTRE_EM = 0.35  # digits' ink is centred this far above the baseline (Helvetica, Arial)
FONT_FAMILY = "Helvetica, Arial, sans-serif"


def _path_data(artwork: Artwork, outline: Outline) -> str:
    parts = []
    for ring in outline.rings:
        points: NDArray[np.float64] = page_pt_from_art_px(artwork, ring)
        coords = " ".join(f"{x:.2f},{y:.2f}" for x, y in points)
        parts.append(f"M{coords}Z")
    return "".join(parts)


def _ink_image(artwork: Artwork) -> str:
    """An `<image>` of line art's ink: black where there is ink, transparent elsewhere."""
    assert artwork.ink is not None
    alpha = np.where(artwork.ink, 255, 0).astype(np.uint8)
    ink = Image.fromarray(np.dstack([np.zeros_like(alpha), alpha]), mode="LA")
    buffer = io.BytesIO()
    ink.save(buffer, format="PNG", optimize=False)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    box = artwork.box
    x, y, w, h = pt_from_px(box.x), pt_from_px(box.y), pt_from_px(box.width), pt_from_px(box.height)
    return (
        f'<image id="ink" x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}"'
        f' preserveAspectRatio="none" href="data:image/png;base64,{data}"/>'
    )


def _frame(artwork: Artwork) -> str:
    """The picture's outer outline, just outside the art box (as on the PNG and PDF pages)."""
    half = artwork.line_width_pt / 2
    box = artwork.box
    x, y = pt_from_px(box.x) - half, pt_from_px(box.y) - half
    w, h = pt_from_px(box.width) + 2 * half, pt_from_px(box.height) + 2 * half
    return (
        f'<rect id="frame" x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}" fill="none"'
        f' stroke="#000000" stroke-width="{artwork.line_width_pt:g}"/>'
    )


def _number_texts(artwork: Artwork, *, font_pt: float) -> list[str]:
    centres = page_pt_from_art_px(artwork, artwork.anchors_xy.astype(np.float64))
    lines = []
    for region, (x, y) in enumerate(centres):
        number = artwork.number_of(int(artwork.region_color[region]))
        baseline = y + DIGIT_CENTRE_EM * font_pt
        lines.append(f'<text x="{x:.2f}" y="{baseline:.2f}">{number}</text>')
    return lines


def puzzle_svg(artwork: Artwork, *, title: str = "", outlines: list[Outline] | None = None) -> bytes:
    """Return the puzzle page as UTF-8 SVG bytes (deterministic for a given artwork and title).

    `outlines` are `region_outlines(artwork)` when the caller has them already.
    """
    page = artwork.page
    width_mm = page.width_pt / PT_PER_INCH * MM_PER_INCH
    height_mm = page.height_pt / PT_PER_INCH * MM_PER_INCH
    heading = title.strip() or MODE_TITLES[artwork.mode]
    stroke = "none" if artwork.ink is not None else "#000000"
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_mm:.1f}mm" height="{height_mm:.1f}mm"'
        f' viewBox="0 0 {page.width_pt:g} {page.height_pt:g}">',
        f"<title>{escape(heading)}</title>",
        f'<rect width="{page.width_pt:g}" height="{page.height_pt:g}" fill="#ffffff"/>',
        f'<g id="regions" fill="none" fill-rule="evenodd" stroke="{stroke}"'
        f' stroke-width="{artwork.line_width_pt:g}"'
        ' stroke-linejoin="round">',
    ]
    for region, outline in enumerate(region_outlines(artwork) if outlines is None else outlines):
        color = int(artwork.region_color[region])
        fill = hex_from_rgb(artwork.palette_rgb[color])
        out.append(
            f'<path id="r{region}" data-number="{artwork.number_of(color)}" data-fill={quoteattr(fill)}'
            f' d="{_path_data(artwork, outline)}"/>'
        )
    out.append("</g>")
    if artwork.ink is not None:
        out.append(_ink_image(artwork))
    out.append(_frame(artwork))
    if artwork.numbered:
        font_pt = artwork.number_size_pt
        out.append(
            f'<g id="numbers" font-family={quoteattr(FONT_FAMILY)} font-size="{font_pt:g}"'
            f' fill="{NUMBER_RGB_HEX}" text-anchor="middle">'
        )
        out.extend(_number_texts(artwork, font_pt=font_pt))
        out.append("</g>")
    out.append("</svg>")
    return ("\n".join(out) + "\n").encode("utf-8")
