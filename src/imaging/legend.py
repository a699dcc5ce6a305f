"""The legend: number → swatch, everyday color name and how many regions (cells) use it.

One list of `LegendEntry` feeds the raster legend (here), `palette.json`, the SVG and the PDF, so the
numbers 1..N and their colors cannot disagree between outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from mosaic.imaging.artwork import Artwork, Box
from mosaic.imaging.colornames import color_names, hex_from_rgb
from mosaic.imaging.difficulty import artwork_difficulty
from mosaic.imaging.fonts import sans, text_width_px
from mosaic.imaging.options import LocalMode

LEGEND_ROW_ENTRIES_MAX = 10
LEGEND_ROWS_MAX = 2
LEGEND_ENTRIES_MAX = LEGEND_ROW_ENTRIES_MAX * LEGEND_ROWS_MAX
FOOTER_HEIGHT_PX = 50
FOOTER_TEXT_PX = 28
INK_RGB = (0, 0, 0)
FOOTER_RGB = (110, 110, 110)
SWATCH_BORDER_PX = 3

UNIT_NAMES: dict[LocalMode, tuple[str, str]] = {
    "hex": ("cell", "cells"),
    "voronoi": ("cell", "cells"),
    "cbn": ("region", "regions"),
    "lineart": ("area", "areas"),
    "square": ("square", "squares"),
}
MODE_TITLES: dict[LocalMode, str] = {
    "hex": "Mystery mosaic (hexagons)",
    "voronoi": "Mystery mosaic (Voronoi)",
    "cbn": "Color by number",
    "lineart": "Coloring page",
    "square": "Mystery grid (squares)",
}


@dataclass(frozen=True, slots=True)
class LegendEntry:
    """One palette color as printed: `number` is palette index + 1, or the paint's set number.

    `name` is the paint's name where a named set gave it, else an everyday color name; `code` is
    the maker's code of the paint (None without one)."""

    number: int
    rgb: tuple[int, int, int]
    hex: str
    name: str
    count: int
    code: str | None = None

    def detail(self, text: str) -> str:
        return with_code(self.code, text)


def with_code(code: str | None, text: str) -> str:
    """`text` (a legend entry's hex value and count) after the paint maker's code where there is one."""
    return text if code is None else f"{code}  ·  {text}"


def legend_entries(artwork: Artwork) -> list[LegendEntry]:
    """Return one entry per palette color, in number order, counting the regions that use it."""
    assert artwork.color_count <= LEGEND_ENTRIES_MAX, artwork.color_count
    counts = np.bincount(artwork.region_color, minlength=artwork.color_count)
    names = color_names(artwork.palette_rgb)
    paints = artwork.paints
    entries = []
    for index, rgb in enumerate(artwork.palette_rgb):
        r, g, b = (int(v) for v in rgb)
        paint = None if paints is None else paints[index]
        name = names[index] if paint is None or paint.name is None else paint.name
        code = None if paint is None else paint.code
        number = artwork.number_of(index)
        entries.append(LegendEntry(number, (r, g, b), hex_from_rgb(rgb), name, int(counts[index]), code))
    return entries


def count_label(mode: LocalMode, count: int) -> str:
    """Return e.g. `"1 region"` or `"34 cells"`."""
    singular, plural = UNIT_NAMES[mode]
    return f"{count} {singular if count == 1 else plural}"


def _fitted_size_px(text: str, size_px: int, width_px: int) -> int:
    """Shrink `size_px` until `text` fits in `width_px` (never below half its size)."""
    while size_px > 8 and text_width_px(text, size_px) > width_px:
        size_px -= 1
    return size_px


def _contrast_rgb(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (0, 0, 0) if luma > 110 else (255, 255, 255)


def draw_swatch(draw: ImageDraw.ImageDraw, box: Box, entry: LegendEntry, *, number_px: int) -> None:
    """Draw `entry`'s swatch filling `box`, outlined, with its number inside in a contrasting ink."""
    right, bottom = box.x + box.width - 1, box.y + box.height - 1
    draw.rectangle((box.x, box.y, right, bottom), fill=entry.rgb, outline=INK_RGB, width=SWATCH_BORDER_PX)
    center = (box.x + box.width / 2, box.y + box.height / 2)
    draw.text(center, str(entry.number), fill=_contrast_rgb(entry.rgb), font=sans(number_px), anchor="mm")


def _draw_band_entry(draw: ImageDraw.ImageDraw, cell: Box, entry: LegendEntry, mode: LocalMode) -> None:
    pad = max(6, cell.width // 20)
    inner_w = cell.width - 2 * pad
    swatch_h = max(20, int(cell.height * 0.42))
    swatch = Box(cell.x + pad, cell.y, inner_w, swatch_h)
    draw_swatch(draw, swatch, entry, number_px=max(12, swatch_h * 3 // 5))
    name_px = _fitted_size_px(entry.name, max(10, cell.height // 7), inner_w)
    name_y = cell.y + swatch_h + pad
    draw.text((cell.x + pad, name_y), entry.name, fill=INK_RGB, font=sans(name_px))
    count_text = entry.detail(count_label(mode, entry.count))
    count_px = _fitted_size_px(count_text, max(10, cell.height // 8), inner_w)
    draw.text((cell.x + pad, name_y + name_px + pad // 2), count_text, fill=FOOTER_RGB, font=sans(count_px))


def draw_legend_band(image: Image.Image, box: Box, entries: list[LegendEntry], *, mode: LocalMode) -> None:
    """Draw up to 20 entries in one or two rows filling `box` (above the footer line), in place."""
    assert 0 < len(entries) <= LEGEND_ENTRIES_MAX
    draw = ImageDraw.Draw(image)
    rows = 1 if len(entries) <= LEGEND_ROW_ENTRIES_MAX else LEGEND_ROWS_MAX
    columns = -(-len(entries) // rows)
    cell_w = box.width // columns
    cell_h = (box.height - FOOTER_HEIGHT_PX) // LEGEND_ROWS_MAX
    for i, entry in enumerate(entries):
        row, column = divmod(i, columns)
        cell = Box(box.x + column * cell_w, box.y + row * cell_h, cell_w, cell_h)
        _draw_band_entry(draw, cell, entry, mode)


def draw_footer(image: Image.Image, box: Box, text: str) -> None:
    """Write `text` small and grey along the bottom of `box`, with the maker's name on the right."""
    draw = ImageDraw.Draw(image)
    font = sans(FOOTER_TEXT_PX)
    bottom = box.y + box.height
    fill: int | tuple[int, int, int] = FOOTER_RGB if image.mode == "RGB" else FOOTER_RGB[0]
    draw.text((box.x, bottom), text, fill=fill, font=font, anchor="ld")
    draw.text((box.x + box.width, bottom), "Mosaic Studio", fill=fill, font=font, anchor="rd")


def footer_text(artwork: Artwork, title: str) -> str:
    """Return the footer line: the title (if any), the mode and the color count (for a coloring
    page, which is not colored, the number of areas to color), then the difficulty report."""
    parts = [title.strip()] if title.strip() else []
    count = f"{artwork.region_count} areas" if artwork.mode == "lineart" else f"{artwork.color_count} colors"
    parts += [MODE_TITLES[artwork.mode], count]
    parts.append(artwork_difficulty(artwork).summary(UNIT_NAMES[artwork.mode][1]))
    return "  ·  ".join(parts)


LEGEND_TITLE_PX = 84
LEGEND_TEXT_PX = 50
LEGEND_DETAIL_PX = 36
LEGEND_COLUMNS = 2


def _draw_page_entry(draw: ImageDraw.ImageDraw, cell: Box, entry: LegendEntry, mode: LocalMode) -> None:
    swatch_w = min(cell.width // 3, 330)
    swatch_h = min(cell.height * 3 // 4, 160)
    swatch_y = cell.y + (cell.height - swatch_h) // 2
    draw_swatch(draw, Box(cell.x, swatch_y, swatch_w, swatch_h), entry, number_px=swatch_h // 2)
    text_x = cell.x + swatch_w + 40
    text_w = cell.width - swatch_w - 60
    name_px = _fitted_size_px(entry.name, LEGEND_TEXT_PX, text_w)
    draw.text((text_x, swatch_y), entry.name, fill=INK_RGB, font=sans(name_px))
    detail = entry.detail(f"{entry.hex}  ·  {count_label(mode, entry.count)}")
    detail_px = _fitted_size_px(detail, LEGEND_DETAIL_PX, text_w)
    draw.text((text_x, swatch_y + swatch_h), detail, fill=FOOTER_RGB, font=sans(detail_px), anchor="ld")


def legend_page(artwork: Artwork, *, title: str = "") -> Image.Image:
    """Return a page (RGB) listing every number with its swatch, color name, hex value and count."""
    page = artwork.page
    image = Image.new("RGB", (page.width_px, page.height_px), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    heading = f"{title.strip()}: color key" if title.strip() else "Color key"
    draw.text((page.art.x, page.art.y), heading, fill=INK_RGB, font=sans(LEGEND_TITLE_PX))
    entries = legend_entries(artwork)
    rows = -(-len(entries) // LEGEND_COLUMNS)
    top = page.art.y + LEGEND_TITLE_PX * 2
    cell_h = min(260, (page.art.y + page.art.height - top) // max(1, rows))
    cell_w = page.art.width // LEGEND_COLUMNS
    for i, entry in enumerate(entries):
        column, row = divmod(i, rows)
        cell = Box(page.art.x + column * cell_w, top + row * cell_h, cell_w, cell_h)
        _draw_page_entry(draw, cell, entry, artwork.mode)
    draw_footer(image, page.band, footer_text(artwork, title))
    return image
