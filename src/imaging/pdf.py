"""A print-ready PDF (fpdf2): the puzzle, the answer and the color key, one page each, in vectors.

Outlines are vector polygons and numbers are text in Helvetica (a PDF base font: nothing embedded),
so the puzzle stays sharp at any printer resolution. Line art's ink is a drawing, not regions, so it
goes in as a lossless 300 dpi image. The creation date is fixed and fpdf2 derives the file id from the
content, so the same artwork gives the same bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from fpdf import FPDF
from fpdf.enums import StrokeJoinStyle
from PIL import Image

from mosaic.imaging.artwork import Artwork, Box, pt_from_px
from mosaic.imaging.legend import (
    FOOTER_RGB,
    LegendEntry,
    count_label,
    footer_text,
    legend_entries,
)
from mosaic.imaging.render import ANSWER_OUTLINE_FRACTION, NUMBER_GREY
from mosaic.imaging.trace import Outline, Ring, page_pt_from_art_px, region_outlines

PDF_CREATION_DATE = datetime(2024, 1, 1, tzinfo=UTC)
PDF_FONT = "helvetica"
DIGIT_CENTRE_EM = 0.35  # Helvetica digits' ink is centred this far above the baseline
FOOTER_PT = 7.0
ANSWER_OUTLINE_GREY = 72
ANSWER_OUTLINE_PT_MIN = 0.3  # wide enough to close the one-pixel seam between traced neighbours
LEGEND_TITLE_PT = 20.0
LEGEND_NAME_PT = 12.0
LEGEND_DETAIL_PT = 8.5
LEGEND_ROW_PT = 60.0


def _box_pt(box: Box) -> tuple[float, float, float, float]:
    return pt_from_px(box.x), pt_from_px(box.y), pt_from_px(box.width), pt_from_px(box.height)


def _polygon(pdf: FPDF, artwork: Artwork, ring: Ring, style: str) -> None:
    points = page_pt_from_art_px(artwork, ring)
    pdf.polygon([(float(x), float(y)) for x, y in points], style=style)


def _frame(pdf: FPDF, artwork: Artwork) -> None:
    """The picture's outer outline, just outside the art box."""
    x, y, w, h = _box_pt(artwork.box)
    half = artwork.line_width_pt / 2
    pdf.set_draw_color(0)
    pdf.set_line_width(artwork.line_width_pt)
    pdf.rect(x - half, y - half, w + 2 * half, h + 2 * half, style="D")


def _footer(pdf: FPDF, artwork: Artwork, title: str) -> None:
    x, y, w, h = _box_pt(artwork.page.band)
    pdf.set_font(PDF_FONT, size=FOOTER_PT)
    pdf.set_text_color(*FOOTER_RGB)
    pdf.text(x, y + h, footer_text(artwork, title))
    maker = "Mosaic Studio"
    pdf.text(x + w - pdf.get_string_width(maker), y + h, maker)


def _ink_image(artwork: Artwork, *, opaque: bool) -> Image.Image:
    """Line art's ink as black on white ("L"), or black over transparency ("LA")."""
    assert artwork.ink is not None
    if opaque:
        return Image.fromarray(np.where(artwork.ink, 0, 255).astype(np.uint8), mode="L")
    grey = np.zeros(artwork.ink.shape, dtype=np.uint8)
    alpha = np.where(artwork.ink, 255, 0).astype(np.uint8)
    return Image.fromarray(np.dstack([grey, alpha]), mode="LA")


def _numbers(pdf: FPDF, artwork: Artwork) -> None:
    size_pt = artwork.number_size_pt
    pdf.set_font(PDF_FONT, size=size_pt)
    pdf.set_text_color(NUMBER_GREY)
    centres = page_pt_from_art_px(artwork, artwork.anchors_xy.astype(np.float64))
    widths: dict[str, float] = {}
    for region, (x, y) in enumerate(centres):
        text = str(artwork.number_of(int(artwork.region_color[region])))
        if text not in widths:
            widths[text] = pdf.get_string_width(text)
        pdf.text(float(x) - widths[text] / 2, float(y) + DIGIT_CENTRE_EM * size_pt, text)


def _puzzle_page(pdf: FPDF, artwork: Artwork, outlines: list[Outline], title: str) -> None:
    pdf.add_page()
    if artwork.ink is not None:
        pdf.image(_ink_image(artwork, opaque=True), *_box_pt(artwork.box))
    else:
        pdf.set_draw_color(0)
        pdf.set_line_width(artwork.line_width_pt)
        with pdf.local_context(stroke_join_style=StrokeJoinStyle.ROUND):  # no miter spikes at tips
            for outline in outlines:
                for ring in outline.outers:
                    _polygon(pdf, artwork, ring, "D")
    if artwork.numbered:
        _numbers(pdf, artwork)
    _frame(pdf, artwork)
    _footer(pdf, artwork, title)


def _answer_page(pdf: FPDF, artwork: Artwork, outlines: list[Outline], title: str) -> None:
    """Fill the regions painter-style, larger first, so a region inside another's hole lands on top."""
    pdf.add_page()
    lineart = artwork.ink is not None
    pdf.set_draw_color(ANSWER_OUTLINE_GREY)
    pdf.set_line_width(max(ANSWER_OUTLINE_PT_MIN, artwork.line_width_pt * ANSWER_OUTLINE_FRACTION))
    order = sorted(range(len(outlines)), key=lambda region: (-outlines[region].area_px, region))
    for region in order:
        rgb = artwork.palette_rgb[int(artwork.region_color[region])]
        pdf.set_fill_color(int(rgb[0]), int(rgb[1]), int(rgb[2]))
        if lineart:
            pdf.set_draw_color(int(rgb[0]), int(rgb[1]), int(rgb[2]))
        for ring in outlines[region].outers:
            _polygon(pdf, artwork, ring, "DF")
    if lineart:
        pdf.image(_ink_image(artwork, opaque=False), *_box_pt(artwork.box))
    _frame(pdf, artwork)
    _footer(pdf, artwork, title)


def _legend_entry(pdf: FPDF, entry: LegendEntry, artwork: Artwork, *, x: float, y: float) -> None:
    swatch_w, swatch_h = 80.0, 40.0
    pdf.set_fill_color(*entry.rgb)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.75)
    pdf.rect(x, y, swatch_w, swatch_h, style="DF")
    luma = 0.299 * entry.rgb[0] + 0.587 * entry.rgb[1] + 0.114 * entry.rgb[2]
    pdf.set_text_color(0 if luma > 110 else 255)
    number, number_pt = str(entry.number), LEGEND_NAME_PT * 1.5
    pdf.set_font(PDF_FONT, size=number_pt)
    number_x = x + (swatch_w - pdf.get_string_width(number)) / 2
    pdf.text(number_x, y + swatch_h / 2 + DIGIT_CENTRE_EM * number_pt, number)
    pdf.set_text_color(0)
    pdf.set_font(PDF_FONT, size=LEGEND_NAME_PT)
    pdf.text(x + swatch_w + 12, y + LEGEND_NAME_PT, entry.name)
    pdf.set_text_color(*FOOTER_RGB)
    pdf.set_font(PDF_FONT, size=LEGEND_DETAIL_PT)
    detail = entry.detail(f"{entry.hex}  ·  {count_label(artwork.mode, entry.count)}")
    pdf.text(x + swatch_w + 12, y + swatch_h, detail)


def _legend_page(pdf: FPDF, artwork: Artwork, title: str) -> None:
    pdf.add_page()
    x, y, w, _ = _box_pt(artwork.page.art)
    pdf.set_font(PDF_FONT, size=LEGEND_TITLE_PT)
    pdf.set_text_color(0)
    pdf.text(x, y + LEGEND_TITLE_PT, f"{title.strip()}: color key" if title.strip() else "Color key")
    entries = legend_entries(artwork)
    rows = -(-len(entries) // 2)
    top = y + 3 * LEGEND_TITLE_PT
    for i, entry in enumerate(entries):
        column, row = divmod(i, rows)
        _legend_entry(pdf, entry, artwork, x=x + column * w / 2, y=top + row * LEGEND_ROW_PT)
    _footer(pdf, artwork, title)


def print_pdf(artwork: Artwork, *, title: str = "", outlines: list[Outline] | None = None) -> bytes:
    """Return the PDF: puzzle page, answer page, color key page (page size in pt as `artwork.page`).

    `outlines` are `region_outlines(artwork)` when the caller has them already.
    """
    page = artwork.page
    pdf = FPDF(unit="pt", format=(page.width_pt, page.height_pt))
    pdf.set_creation_date(PDF_CREATION_DATE)
    pdf.set_creator("Mosaic Studio")
    pdf.set_title(title.strip() or footer_text(artwork, ""))
    pdf.set_margins(0, 0, 0)
    pdf.set_auto_page_break(auto=False)
    if outlines is None:
        outlines = region_outlines(artwork)
    _puzzle_page(pdf, artwork, outlines, title)
    _answer_page(pdf, artwork, outlines, title)
    _legend_page(pdf, artwork, title)
    return bytes(pdf.output())
