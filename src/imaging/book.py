"""A print-ready book of many puzzles, one PDF: title page, the puzzles, then the answers.

What print-on-demand services ask of an interior file: every page the trim size (Letter 8.5×11 in,
or A4), optionally with a 0.125 in bleed on every side (the MediaBox grows by it, the TrimBox says
where the sheet is cut, the BleedBox is the whole MediaBox), fonts embedded, and margins clear of
the gutter: the pages are laid out with 0.625 in margins and then shifted 0.125 in away from the
binding (right on odd pages, left on even ones), so the inside margin is 0.75 in (what the common
services ask of books up to 700 pages) and the outside one 0.5 in.

Each puzzle page is the puzzle with its color key in the band below it (as `full.png`); the
answers follow in the same order, each on its own page naming the page of its puzzle. Every page
but the title page carries its page number. The same images and fields give the same bytes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final

from fpdf import FPDF

from mosaic.imaging.artwork import DPI, PT_PER_INCH, Box, Page, page_for
from mosaic.imaging.options import PageChoice
from mosaic.imaging.pdf import (
    FOOTER_PT,
    MAKER,
    PDF_FONT,
    Offset,
    PageBoxes,
    draw_answer,
    draw_footer,
    draw_puzzle,
    draw_swatch,
    new_document,
    write_pdf,
)
from mosaic.imaging.printart import PrintArt

GUTTER_SHIFT_IN: Final = 0.125
BLEED_IN: Final = 0.125
TITLE_PT: Final = 30.0
SUBTITLE_PT: Final = 13.0
BAND_ROWS: Final = 2
BAND_COLUMNS_MAX: Final = 10
BAND_NAME_PT: Final = 6.5
BAND_NAME_PT_MIN: Final = 4.0
BAND_CELL_PAD_PT: Final = 3.0
FOOTER_ROOM_PT: Final = 12.0


def book_page(name: PageChoice) -> Page:
    """The page a book's puzzle is laid out on: `page_for(name)` with the art and the band
    narrowed by the gutter shift on both sides, so either shift keeps them inside the margins."""
    page = page_for(name)
    shift = round(GUTTER_SHIFT_IN * DPI)

    def narrowed(box: Box) -> Box:
        return Box(box.x + shift, box.y, box.width - 2 * shift, box.height)

    return dataclasses.replace(page, art=narrowed(page.art), band=narrowed(page.band))


@dataclasses.dataclass(frozen=True, slots=True)
class _Sheet:
    """One page of the book: its size and where its content goes."""

    trim_pt: tuple[float, float]
    bleed_pt: float

    def offset(self, number: int) -> Offset:
        """Where page `number`'s (1-based) content goes: inside the bleed, away from the gutter."""
        shift = GUTTER_SHIFT_IN * PT_PER_INCH
        return self.bleed_pt + (shift if number % 2 else -shift), self.bleed_pt

    def boxes(self) -> PageBoxes:
        w, h = self.trim_pt
        b = self.bleed_pt
        return PageBoxes(trim=(b, b, b + w, b + h), bleed=(0.0, 0.0, w + 2 * b, h + 2 * b))


def _fitted_size(pdf: FPDF, text: str, size_pt: float, width_pt: float, *, smallest: float) -> float:
    pdf.set_font(PDF_FONT, size=size_pt)
    width = pdf.get_string_width(text)
    return size_pt if width <= width_pt else max(smallest, size_pt * width_pt / width)


def _centred_line(
    pdf: FPDF, text: str, *, centre_x: float, y: float, size_pt: float, width_pt: float
) -> None:
    size = _fitted_size(pdf, text, size_pt, width_pt, smallest=size_pt / 4)
    pdf.set_font(PDF_FONT, size=size)
    pdf.text(centre_x - pdf.get_string_width(text) / 2, y, text)


def _title_page(pdf: FPDF, sheet: _Sheet, title: str, puzzles: int, art: PrintArt) -> None:
    x, y, width, height = art.art
    at = sheet.offset(1)
    centre = at[0] + x + width / 2
    pdf.set_text_color(0)
    _centred_line(pdf, title, centre_x=centre, y=at[1] + y + height / 3, size_pt=TITLE_PT, width_pt=width)
    pdf.set_text_color(90)
    subtitle = f"{puzzles} puzzle{'s' if puzzles != 1 else ''} with their answers"
    _centred_line(
        pdf, subtitle, centre_x=centre, y=at[1] + y + height / 3 + 2.2 * SUBTITLE_PT,
        size_pt=SUBTITLE_PT, width_pt=width,
    )
    _centred_line(
        pdf, MAKER, centre_x=centre, y=at[1] + art.band[1] + art.band[3], size_pt=FOOTER_PT, width_pt=width
    )


def _legend_band(pdf: FPDF, art: PrintArt, at: Offset) -> None:
    """The color key in the band under the picture: up to 10 swatches a row, a name under each."""
    x, y, width, height = art.band
    x, y = x + at[0], y + at[1]
    rows = 1 if len(art.legend) <= BAND_COLUMNS_MAX else BAND_ROWS
    columns = -(-len(art.legend) // rows)
    cell_w = width / columns
    cell_h = (height - FOOTER_ROOM_PT) / BAND_ROWS
    swatch_w, swatch_h = cell_w - 2 * BAND_CELL_PAD_PT, cell_h * 0.45
    for i, row in enumerate(art.legend):
        line, column = divmod(i, columns)
        cell_x, cell_y = x + column * cell_w + BAND_CELL_PAD_PT, y + line * cell_h
        draw_swatch(pdf, row, x=cell_x, y=cell_y, w=swatch_w, h=swatch_h, number_pt=swatch_h * 0.6)
        size = _fitted_size(pdf, row.name, BAND_NAME_PT, swatch_w, smallest=BAND_NAME_PT_MIN)
        pdf.set_font(PDF_FONT, size=size)
        pdf.set_text_color(0)
        pdf.text(cell_x, cell_y + swatch_h + BAND_NAME_PT + 2, row.name)


def _page_number(pdf: FPDF, art: PrintArt, at: Offset, number: int) -> None:
    x, y, width, height = art.band
    text = str(number)
    pdf.set_font(PDF_FONT, size=FOOTER_PT)
    pdf.set_text_color(0)
    pdf.text(at[0] + x + (width - pdf.get_string_width(text)) / 2, at[1] + y + height, text)


def book_pdf(arts: Sequence[PrintArt], *, title: str, page: PageChoice, bleed: bool) -> bytes:
    """The book of `arts` (laid out on `book_page(page)`), in their order.

    Pages: the title page if `title` is not blank, one page per puzzle, one per answer.
    """
    assert arts, "a book has at least one puzzle"
    layout = page_for(page)
    sheet = _Sheet((layout.width_pt, layout.height_pt), BLEED_IN * PT_PER_INCH if bleed else 0.0)
    width, height = (size + 2 * sheet.bleed_pt for size in sheet.trim_pt)
    heading = title.strip()
    pdf = new_document(width, height, title=heading or f"{len(arts)} puzzles")
    if heading:
        pdf.add_page()
        _title_page(pdf, sheet, heading, len(arts), arts[0])
    first_puzzle = pdf.page + 1
    for art in arts:
        pdf.add_page()
        at = sheet.offset(pdf.page)
        draw_puzzle(pdf, art, at)
        _legend_band(pdf, art, at)
        draw_footer(pdf, art, at, left=art.footer)
        _page_number(pdf, art, at, pdf.page)
    for index, art in enumerate(arts):
        pdf.add_page()
        at = sheet.offset(pdf.page)
        draw_answer(pdf, art, at)
        draw_footer(pdf, art, at, left=f"Answer to page {first_puzzle + index}  ·  {art.footer}")
        _page_number(pdf, art, at, pdf.page)
    return write_pdf(pdf, {number: sheet.boxes() for number in range(1, pdf.page + 1)})
