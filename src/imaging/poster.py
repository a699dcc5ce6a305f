"""A poster: one picture over `tiles` × `tiles` sheets of paper, as one PDF to print at home.

The artwork is analysed at the poster's full size (`poster_page`), so the region and number rules
hold on the wall as on a page: the numbers keep their printed size and a 3×3 poster has about nine
times the regions of a page. The puzzle is then rendered once at 300 dpi and cut into sheets; each
sheet's printable area (inside the page margins) repeats a 0.5 in strip of its neighbours', so the
sheets can be trimmed and glued with no gap. Registration marks sit in the middle of every strip,
so the same mark lies on both sheets of a seam, and a dashed line shows where the strip begins.

Pages: the assembly map (the answer, small, with the sheets' outlines and names: A1 is top left,
letters are rows), the sheets row by row, then the color key. Any mode whose artwork has numbered
regions makes a poster the same way: nothing here depends on the mode.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import msgspec
import numpy as np
from fpdf import FPDF
from numpy.typing import NDArray
from PIL import Image

from mosaic.imaging.artwork import DPI, Artwork, Box, Page, PageOrientation, page_for, pt_from_px
from mosaic.imaging.legend import footer_text
from mosaic.imaging.options import PageChoice
from mosaic.imaging.pdf import (
    FOOTER_PT,
    MAKER,
    PDF_FONT,
    PageBoxes,
    draw_footer,
    draw_legend,
    new_document,
    write_pdf,
)
from mosaic.imaging.printart import print_art, rect_pt
from mosaic.imaging.render import puzzle_grey

OVERLAP_IN: Final = 0.5
FRAME_ROOM_PX: Final = 12  # around the poster's art box, so the picture's frame is drawn whole
MAP_SAMPLE_PX: Final = 8  # the assembly map shows every 8th pixel of the answer
MARK_RADIUS_PT: Final = 7.0
MARK_LINE_PT: Final = 0.4
MARKS_PER_SEAM: Final = 2
MAP_HEADING_PT: Final = 18.0
SHEET_LABEL_PT: Final = 14.0
ROWS: Final = "ABCDEFGHIJ"


@dataclasses.dataclass(frozen=True, slots=True)
class Layout:
    """Where each sheet's printable area lies on the poster (poster pixels)."""

    page: Page  # the paper upright: its size and margins
    tiles: int
    overlap_px: int
    landscape: bool  # sheets turned, for a picture wider than tall

    @property
    def sheet_px(self) -> tuple[int, int]:
        size = (self.page.width_px, self.page.height_px)
        return (size[1], size[0]) if self.landscape else size

    @property
    def sheet_pt(self) -> tuple[float, float]:
        size = (self.page.width_pt, self.page.height_pt)
        return (size[1], size[0]) if self.landscape else size

    @property
    def margin_px(self) -> int:
        return self.page.margin_px

    @property
    def cell(self) -> tuple[int, int]:
        """Width and height of a sheet's printable area."""
        width, height = self.sheet_px
        return width - 2 * self.margin_px, height - 2 * self.margin_px

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the whole poster."""
        w, h = self.cell
        shared = (self.tiles - 1) * self.overlap_px
        return self.tiles * w - shared, self.tiles * h - shared

    def area(self, row: int, column: int) -> Box:
        w, h = self.cell
        return Box(column * (w - self.overlap_px), row * (h - self.overlap_px), w, h)

    def marks(self, row: int, column: int) -> list[tuple[float, float]]:
        """The registration marks on a sheet (poster pixels): along the middle of each overlap
        strip it shares, `MARKS_PER_SEAM` per neighbour, at places both sheets of the seam hold."""
        area = self.area(row, column)
        half = self.overlap_px / 2
        shares = [(k + 1) / (MARKS_PER_SEAM + 1) for k in range(MARKS_PER_SEAM)]
        xs = [area.x + area.width * share for share in shares]
        ys = [area.y + area.height * share for share in shares]
        found = []
        if column > 0:
            found += [(area.x + half, y) for y in ys]
        if column < self.tiles - 1:
            found += [(area.x + area.width - half, y) for y in ys]
        if row > 0:
            found += [(x, area.y + half) for x in xs]
        if row < self.tiles - 1:
            found += [(x, area.y + area.height - half) for x in xs]
        return found


def layout(page: PageChoice, tiles: int, *, landscape: bool = False) -> Layout:
    return Layout(page_for(page), tiles, round(OVERLAP_IN * DPI), landscape)


def poster_page(page: PageChoice, tiles: int, *, landscape: bool = False) -> Page:
    """The 'page' a poster's artwork is laid out on: the whole poster, at 300 dpi. `landscape`
    turns the sheets (not the grid), so a wide picture fills a wide poster; the longer side is the
    same either way."""
    width, height = layout(page, tiles, landscape=landscape).size
    art = Box(FRAME_ROOM_PX, FRAME_ROOM_PX, width - 2 * FRAME_ROOM_PX, height - 2 * FRAME_ROOM_PX)
    band = Box(0, height, width, 0)  # no legend under it: the color key is a page of its own
    turned: PageOrientation = "landscape" if landscape else "portrait"
    return Page(page, width, height, pt_from_px(width), pt_from_px(height), FRAME_ROOM_PX, art, band, turned)


def sheet_name(row: int, column: int) -> str:
    return f"{ROWS[row]}{column + 1}"


def _map_image(artwork: Artwork) -> Image.Image:
    """The answer over the whole poster, every `MAP_SAMPLE_PX`th pixel."""
    page, box, step = artwork.page, artwork.box, MAP_SAMPLE_PX
    canvas = np.full((-(-page.height_px // step), -(-page.width_px // step), 3), 255, dtype=np.uint8)
    colors = artwork.palette_rgb[artwork.region_color][artwork.labels[::step, ::step]]
    y0, x0 = -(-box.y // step), -(-box.x // step)
    fit = colors[: canvas.shape[0] - y0, : canvas.shape[1] - x0]
    canvas[y0 : y0 + fit.shape[0], x0 : x0 + fit.shape[1]] = fit
    return Image.fromarray(canvas, mode="RGB")


def _assembly_map(pdf: FPDF, artwork: Artwork, plan: Layout, title: str) -> None:
    sheet_w, sheet_h = plan.sheet_pt
    margin = pt_from_px(plan.margin_px)
    usable_w = sheet_w - 2 * margin
    usable_h = sheet_h - 2 * margin - 3 * MAP_HEADING_PT
    poster_w, poster_h = (pt_from_px(v) for v in plan.size)
    scale = min(usable_w / poster_w, usable_h / poster_h)
    left = margin + (usable_w - poster_w * scale) / 2
    top = margin + 3 * MAP_HEADING_PT
    pdf.set_font(PDF_FONT, size=MAP_HEADING_PT)
    pdf.set_text_color(0)
    heading = f"{title}: " if title else ""
    pdf.text(margin, margin + MAP_HEADING_PT, f"{heading}poster of {plan.tiles} × {plan.tiles} sheets")
    pdf.set_font(PDF_FONT, size=FOOTER_PT + 2)
    pdf.text(
        margin, margin + 2.2 * MAP_HEADING_PT,
        f"Trim each sheet along its dashed lines and lay it over the {OVERLAP_IN:g} in strip of the one "
        "left of it and above it, matching the marks.",
    )
    pdf.image(_map_image(artwork), left, top, poster_w * scale, poster_h * scale)
    pdf.set_draw_color(0)
    pdf.set_line_width(0.8)
    for row in range(plan.tiles):
        for column in range(plan.tiles):
            area = plan.area(row, column)
            x, y = left + pt_from_px(area.x) * scale, top + pt_from_px(area.y) * scale
            w, h = pt_from_px(area.width) * scale, pt_from_px(area.height) * scale
            pdf.rect(x, y, w, h, style="D")
            pdf.set_font(PDF_FONT, size=SHEET_LABEL_PT)
            name = sheet_name(row, column)
            pdf.text(x + (w - pdf.get_string_width(name)) / 2, y + h / 2, name)


def _mark(pdf: FPDF, x: float, y: float) -> None:
    """A registration mark: a circle and its cross, centred on (x, y)."""
    pdf.set_draw_color(0)
    pdf.set_line_width(MARK_LINE_PT)
    r = MARK_RADIUS_PT
    pdf.ellipse(x - r, y - r, 2 * r, 2 * r, style="D")  # circle()'s arguments changed in fpdf2 2.8.1
    pdf.line(x - 1.5 * r, y, x + 1.5 * r, y)
    pdf.line(x, y - 1.5 * r, x, y + 1.5 * r)


def _sheet(
    pdf: FPDF, puzzle: NDArray[np.uint8], plan: Layout, *, row: int, column: int, footer: str
) -> None:
    area = plan.area(row, column)
    margin = pt_from_px(plan.margin_px)
    crop = puzzle[area.y : area.y + area.height, area.x : area.x + area.width]
    strip = pt_from_px(plan.overlap_px)
    w, h = pt_from_px(area.width), pt_from_px(area.height)
    pdf.image(Image.fromarray(crop, mode="L"), margin, margin, w, h)
    pdf.set_draw_color(110)
    pdf.set_line_width(MARK_LINE_PT)
    with pdf.local_context():
        pdf.set_dash_pattern(dash=4, gap=3)
        if column > 0:
            pdf.line(margin + strip, margin, margin + strip, margin + h)
        if row > 0:
            pdf.line(margin, margin + strip, margin + w, margin + strip)
    for x, y in plan.marks(row, column):
        _mark(pdf, margin + pt_from_px(x - area.x), margin + pt_from_px(y - area.y))
    pdf.set_font(PDF_FONT, size=FOOTER_PT)
    pdf.set_text_color(110)
    name, tiles = sheet_name(row, column), plan.tiles
    label = f"Sheet {name}: row {row + 1}, column {column + 1} of {tiles} × {tiles}"
    sheet_w, sheet_h = plan.sheet_pt
    pdf.text(margin, sheet_h - margin / 2, f"{label}  ·  {footer}")
    pdf.text(sheet_w - margin - pdf.get_string_width(MAKER), sheet_h - margin / 2, MAKER)


def poster_pdf(
    artwork: Artwork, *, page: PageChoice, tiles: int, landscape: bool = False, title: str = ""
) -> bytes:
    """The poster of `artwork` (laid out on `poster_page(page, tiles, landscape=…)`): the map and
    the sheets on sheets turned as the poster's, then the color key upright."""
    assert artwork.numbered and artwork.ink is None, "a poster's sheets are numbered regions"
    plan = layout(page, tiles, landscape=landscape)
    assert (artwork.page.width_px, artwork.page.height_px) == plan.size, "laid out on poster_page()"
    upright = plan.page
    pdf = new_document(*plan.sheet_pt, title=title or footer_text(artwork, ""))
    pdf.add_page()
    _assembly_map(pdf, artwork, plan, title)
    puzzle = puzzle_grey(artwork)
    footer = footer_text(artwork, title)
    for row in range(tiles):
        for column in range(tiles):
            pdf.add_page()
            _sheet(pdf, puzzle, plan, row=row, column=column, footer=footer)
    del puzzle
    art = print_art(artwork, [], title=title)
    upright_pt = (upright.width_pt, upright.height_pt)
    key = msgspec.structs.replace(
        art, page_pt=upright_pt, art=rect_pt(upright.art), band=rect_pt(upright.band)
    )
    pdf.add_page(format=key.page_pt)  # two columns of up to 10 colors need the page upright
    draw_legend(pdf, key)
    draw_footer(pdf, key, left=footer)
    boxes = {n: _whole(plan.sheet_pt) for n in range(1, pdf.page)}
    return write_pdf(pdf, {**boxes, pdf.page: _whole(key.page_pt)})


def _whole(size_pt: tuple[float, float]) -> PageBoxes:
    """No bleed: the page is cut nowhere, so trim and bleed are the whole page."""
    whole = (0.0, 0.0, *size_pt)
    return PageBoxes(trim=whole, bleed=whole)
