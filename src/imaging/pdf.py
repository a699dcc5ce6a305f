"""Print-ready PDF (fpdf2): the puzzle, the answer and the color key, one page each, in vectors.

Outlines are vector polygons and numbers are text in DejaVu Sans, embedded (the subset of glyphs
used), as print services require: a PDF that names a font without embedding it prints in whatever
the printer substitutes. Line art's ink is a drawing, not regions, so it goes in as a lossless
300 dpi image. The creation date is fixed and fpdf2 derives the file id from the content, so the
same artwork gives the same bytes.

Every page is drawn from a `PrintArt` (what the pages of one artwork draw, in points), at an
offset: the book (`book.py`) and the poster (`poster.py`) place the same drawings on their own
pages. fpdf2 writes a page's MediaBox only; `write_pdf` adds TrimBox and BleedBox where asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import cast

import numpy as np
from fpdf import FPDF
from fpdf.enums import StrokeJoinStyle
from fpdf.output import PDFPage
from numpy.typing import NDArray
from PIL import Image

from mosaic.imaging.artwork import Artwork
from mosaic.imaging.legend import FOOTER_RGB, count_label
from mosaic.imaging.printart import LegendRow, PrintArt, Rect, print_art
from mosaic.imaging.render import ANSWER_OUTLINE_FRACTION, NUMBER_GREY
from mosaic.imaging.trace import Outline, region_outlines

PDF_CREATION_DATE = datetime(2024, 1, 1, tzinfo=UTC)
PDF_FONT = "dejavu-sans"
FONT_FILE = "data/DejaVuSans.ttf"
DIGIT_CENTRE_EM = 0.36  # DejaVu Sans digits' ink is centred this far above the baseline
FOOTER_PT = 7.0
ANSWER_OUTLINE_GREY = 72
ANSWER_OUTLINE_PT_MIN = 0.3  # wide enough to close the one-pixel seam between traced neighbours
LEGEND_TITLE_PT = 20.0
LEGEND_NAME_PT = 12.0
LEGEND_DETAIL_PT = 8.5
LEGEND_ROW_PT = 60.0
MAKER = "Mosaic Studio"

Offset = tuple[float, float]  # added to every x and y a drawing makes, in pt
ORIGIN: Offset = (0.0, 0.0)


def new_document(width_pt: float, height_pt: float, *, title: str) -> FPDF:
    """An empty document of pages `width_pt` × `height_pt`, its font registered, margins off."""
    pdf = FPDF(unit="pt", format=(width_pt, height_pt))
    pdf.set_creation_date(PDF_CREATION_DATE)
    pdf.set_creator(MAKER)
    pdf.set_title(title)
    pdf.set_margins(0, 0, 0)
    pdf.set_auto_page_break(auto=False)
    pdf.add_font(PDF_FONT, fname=_font_path())
    return pdf


@cache
def _font_path() -> str:
    # fpdf2 reads fonts from a file name; inside a wheel the resource is a file already.
    with resources.as_file(resources.files("mosaic.imaging").joinpath(FONT_FILE)) as path:
        return str(path)


@dataclass(frozen=True, slots=True)
class PageBoxes:
    """A page's TrimBox and BleedBox in PDF coordinates (pt, origin bottom left): x0, y0, x1, y1."""

    trim: tuple[float, float, float, float]
    bleed: tuple[float, float, float, float]


class _BoxedPage(PDFPage):
    """fpdf2's page object with the two boxes it has no API for; it writes every attribute whose
    name it can camel-case (`trim_box` → `/TrimBox`)."""

    __slots__ = ("bleed_box", "trim_box")
    bleed_box: str
    trim_box: str


def _boxed(page: PDFPage, boxes: PageBoxes) -> _BoxedPage:
    boxed = _BoxedPage.__new__(_BoxedPage)
    for cls in type(page).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if hasattr(page, name):
                setattr(boxed, name, getattr(page, name))
    for name, value in getattr(page, "__dict__", {}).items():  # what no slot holds
        setattr(boxed, name, value)
    boxed.trim_box = "[{:.2f} {:.2f} {:.2f} {:.2f}]".format(*boxes.trim)
    boxed.bleed_box = "[{:.2f} {:.2f} {:.2f} {:.2f}]".format(*boxes.bleed)
    return boxed


def write_pdf(pdf: FPDF, boxes: Mapping[int, PageBoxes] | None = None) -> bytes:
    """The document's bytes, with `boxes` (by 1-based page number) on their pages."""
    for number, page_boxes in (boxes or {}).items():
        pdf.pages[number] = _boxed(pdf.pages[number], page_boxes)
    return bytes(pdf.output())


def _shifted(rect: Rect, at: Offset) -> Rect:
    return rect[0] + at[0], rect[1] + at[1], rect[2], rect[3]


def _frame(pdf: FPDF, art: PrintArt, at: Offset) -> None:
    """The picture's outer outline, just outside the art box."""
    x, y, w, h = _shifted(art.box, at)
    half = art.line_width_pt / 2
    pdf.set_draw_color(0)
    pdf.set_line_width(art.line_width_pt)
    pdf.rect(x - half, y - half, w + 2 * half, h + 2 * half, style="D")


def draw_footer(pdf: FPDF, art: PrintArt, at: Offset = ORIGIN, *, left: str, right: str = MAKER) -> None:
    """A small grey line along the bottom of the band: `left` at its left, `right` at its right."""
    x, y, w, h = _shifted(art.band, at)
    pdf.set_font(PDF_FONT, size=FOOTER_PT)
    pdf.set_text_color(*FOOTER_RGB)
    pdf.text(x, y + h, left)
    pdf.text(x + w - pdf.get_string_width(right), y + h, right)


def _ink_image(ink: NDArray[np.bool_], *, opaque: bool) -> Image.Image:
    """Line art's ink as black on white ("L"), or black over transparency ("LA")."""
    if opaque:
        return Image.fromarray(np.where(ink, 0, 255).astype(np.uint8), mode="L")
    grey = np.zeros(ink.shape, dtype=np.uint8)
    alpha = np.where(ink, 255, 0).astype(np.uint8)
    return Image.fromarray(np.dstack([grey, alpha]), mode="LA")


def centred_text(pdf: FPDF, text: str, *, x: float, y: float, size_pt: float) -> None:
    """`text` in the current font at `size_pt`, its digits' ink centred on (x, y)."""
    pdf.text(x - pdf.get_string_width(text) / 2, y + DIGIT_CENTRE_EM * size_pt, text)


def _numbers(pdf: FPDF, art: PrintArt, at: Offset) -> None:
    size_pt = art.number_size_pt
    pdf.set_font(PDF_FONT, size=size_pt)
    pdf.set_text_color(NUMBER_GREY)
    widths: dict[str, float] = {}
    lift = DIGIT_CENTRE_EM * size_pt
    for color, (x, y) in zip(art.colors().tolist(), art.anchor_points().tolist(), strict=True):
        text = str(art.numbers[color])
        if text not in widths:
            widths[text] = pdf.get_string_width(text)
        pdf.text(x + at[0] - widths[text] / 2, y + at[1] + lift, text)


def _rings(art: PrintArt, at: Offset) -> list[tuple[int, Sequence[tuple[float, float]]]]:
    """Every outer ring as plain floats (fpdf2 formats each point: lists are the fastest to read)."""
    shift = np.array(at, dtype=np.float64)
    return [
        (region, cast(Sequence[tuple[float, float]], (ring + shift).tolist())) for region, ring in art.rings()
    ]


def draw_puzzle(pdf: FPDF, art: PrintArt, at: Offset = ORIGIN) -> None:
    """The numbered outlines (or the line art), the numbers and the frame, on the current page."""
    ink = art.ink_mask()
    if ink is not None:
        pdf.image(_ink_image(ink, opaque=True), *_shifted(art.box, at))
    else:
        pdf.set_draw_color(0)
        pdf.set_line_width(art.line_width_pt)
        with pdf.local_context(stroke_join_style=StrokeJoinStyle.ROUND):  # no miter spikes at tips
            for _, ring in _rings(art, at):
                pdf.polygon(ring, style="D")
    if art.numbered:
        _numbers(pdf, art, at)
    _frame(pdf, art, at)


def draw_answer(pdf: FPDF, art: PrintArt, at: Offset = ORIGIN) -> None:
    """Fill the regions painter-style, larger first, so a region inside another's hole lands on top."""
    ink = art.ink_mask()
    pdf.set_draw_color(ANSWER_OUTLINE_GREY)
    pdf.set_line_width(max(ANSWER_OUTLINE_PT_MIN, art.line_width_pt * ANSWER_OUTLINE_FRACTION))
    palette = art.palette_rgb().tolist()
    colors = art.colors().tolist()
    for region, ring in _rings(art, at):
        r, g, b = palette[colors[region]]
        pdf.set_fill_color(r, g, b)
        if ink is not None:
            pdf.set_draw_color(r, g, b)
        pdf.polygon(ring, style="DF")
    if ink is not None:
        pdf.image(_ink_image(ink, opaque=False), *_shifted(art.box, at))
    _frame(pdf, art, at)


def draw_swatch(
    pdf: FPDF, row: LegendRow, *, x: float, y: float, w: float, h: float, number_pt: float
) -> None:
    """`row`'s color filling the box, outlined, its number inside in a contrasting ink."""
    pdf.set_fill_color(*row.rgb)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.75)
    pdf.rect(x, y, w, h, style="DF")
    luma = 0.299 * row.rgb[0] + 0.587 * row.rgb[1] + 0.114 * row.rgb[2]
    pdf.set_text_color(0 if luma > 110 else 255)
    pdf.set_font(PDF_FONT, size=number_pt)
    centred_text(pdf, str(row.number), x=x + w / 2, y=y + h / 2, size_pt=number_pt)


def _legend_entry(pdf: FPDF, row: LegendRow, art: PrintArt, *, x: float, y: float) -> None:
    swatch_w, swatch_h = 80.0, 40.0
    draw_swatch(pdf, row, x=x, y=y, w=swatch_w, h=swatch_h, number_pt=LEGEND_NAME_PT * 1.5)
    pdf.set_text_color(0)
    pdf.set_font(PDF_FONT, size=LEGEND_NAME_PT)
    pdf.text(x + swatch_w + 12, y + LEGEND_NAME_PT, row.name)
    pdf.set_text_color(*FOOTER_RGB)
    pdf.set_font(PDF_FONT, size=LEGEND_DETAIL_PT)
    detail = row.detail(f"{row.hex}  ·  {count_label(art.local_mode, row.count)}")
    pdf.text(x + swatch_w + 12, y + swatch_h, detail)


def draw_legend(pdf: FPDF, art: PrintArt, at: Offset = ORIGIN) -> None:
    """The color key filling the art box: a heading, then every number in two columns."""
    x, y, w, _ = _shifted(art.art, at)
    pdf.set_font(PDF_FONT, size=LEGEND_TITLE_PT)
    pdf.set_text_color(0)
    pdf.text(x, y + LEGEND_TITLE_PT, f"{art.title}: color key" if art.title else "Color key")
    rows = -(-len(art.legend) // 2)
    top = y + 3 * LEGEND_TITLE_PT
    for i, row in enumerate(art.legend):
        column, line = divmod(i, rows)
        _legend_entry(pdf, row, art, x=x + column * w / 2, y=top + line * LEGEND_ROW_PT)


def print_pdf(artwork: Artwork, *, title: str = "", outlines: list[Outline] | None = None) -> bytes:
    """Return the PDF: puzzle page, answer page, color key page (page size in pt as `artwork.page`).

    `outlines` are `region_outlines(artwork)` when the caller has them already.
    """
    art = print_art(artwork, region_outlines(artwork) if outlines is None else outlines, title=title)
    pdf = new_document(*art.page_pt, title=art.title or art.footer)
    for draw in (draw_puzzle, draw_answer, draw_legend):
        pdf.add_page()
        draw(pdf, art)
        draw_footer(pdf, art, left=art.footer)
    return write_pdf(pdf)
