"""The one data structure every imaging mode produces and every writer consumes.

Analysis (`cbn`, `mosaic`, `lineart`) turns a photo into an `Artwork`: a label map at print resolution
that says, for each pixel of the art box, which region (or cell) it belongs to, the palette index of
each region, and where each region's number goes. Rendering (`render`, `svg`, `pdf`, `bundle`) turns an
`Artwork` into pages and files and never looks at the photo again, so puzzle, answer, legend, SVG and
PDF cannot disagree.

Sizes on paper are in mm or pt; pixels are 300 dpi print pixels. Convert at one place: the helpers
below.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.options import LocalMode, PageChoice
from mosaic.imaging.palettes import Paint

DPI = 300
MM_PER_INCH = 25.4
PT_PER_INCH = 72.0



def px_from_mm(mm: float, dpi: int = DPI) -> float:
    return mm * dpi / MM_PER_INCH


def px_from_pt(pt: float, dpi: int = DPI) -> float:
    return pt * dpi / PT_PER_INCH


def mm_from_px(px: float, dpi: int = DPI) -> float:
    return px * MM_PER_INCH / dpi


def pt_from_px(px: float, dpi: int = DPI) -> float:
    return px * PT_PER_INCH / dpi


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle in page pixels: left, top, width, height."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Page:
    """A printable page at 300 dpi.

    `art` is the box the artwork may fill (inside the margins, above the band kept for the legend and
    the footer); analysis fits the photo into it, keeping the aspect ratio.
    """

    name: PageChoice
    width_px: int
    height_px: int
    width_pt: float
    height_pt: float
    margin_px: int
    art: Box
    band: Box


MARGIN_IN = 0.5
LEGEND_BAND_IN = 1.75  # up to 20 swatches in 2 rows with names and counts, plus a footer line
BAND_GAP_IN = 0.15


def page_for(name: PageChoice) -> Page:
    """Return the page layout for `name` (letter 2550×3300 px / 612×792 pt, A4 2480×3508 px / 595×842 pt)."""
    if name == "letter":
        width_px, height_px, width_pt, height_pt = 2550, 3300, 612.0, 792.0
    elif name == "a4":
        width_px, height_px, width_pt, height_pt = 2480, 3508, 595.0, 842.0
    else:
        raise ValueError(f"unknown page {name!r}")
    margin_px = round(MARGIN_IN * DPI)
    band_px = round(LEGEND_BAND_IN * DPI)
    gap_px = round(BAND_GAP_IN * DPI)
    inner_w = width_px - 2 * margin_px
    inner_h = height_px - 2 * margin_px
    art = Box(margin_px, margin_px, inner_w, inner_h - band_px - gap_px)
    band = Box(margin_px, height_px - margin_px - band_px, inner_w, band_px)
    return Page(name, width_px, height_px, width_pt, height_pt, margin_px, art, band)


@dataclass(frozen=True, slots=True)
class Artwork:
    """A numbered picture, ready to render.

    Attributes
    ----------
    mode
        Which analysis made it.
    page
        The page it was laid out for.
    box
        Where `labels` sits on the page (page pixels); inside `page.art`, centred, photo aspect kept.
    labels
        (H, W) int32, H == box.height, W == box.width: the region (cell) index of every pixel, 0..R-1.
        Every pixel belongs to exactly one region, so borders are shared and there are no gaps.
    region_color
        (R,) int32: palette index 0..N-1 of each region. The printed number is `number_of(index)`:
        index + 1, or with `paints` the paint's number in its set.
    palette_rgb
        (N, 3) uint8: the colors, in number order. Exactly the requested count for cbn/hex/voronoi.
    anchors_xy
        (R, 2) float32: where each region's number is centred, in `labels` pixel coordinates (x, y).
    number_size_pt
        Font size of the numbers on paper.
    line_width_pt
        Width of the outlines on paper.
    numbered
        False for `lineart` (a coloring page carries no numbers).
    ink
        (H, W) bool or None: for `lineart`, the line drawing itself (True = ink); otherwise None and
        the outlines are drawn along the borders of `labels`.
    polygons
        For `hex` / `voronoi`: one (K, 2) float64 array of vertices (x, y in `labels` coordinates) per
        region, the exact cell geometry for vector output; None for raster-segmented modes.
    paints
        With `palette=`: the paint of each palette color (same order, exactly its sRGB value),
        whose set number is the printed number; None when the colors were made for the photo.
    """

    mode: LocalMode
    page: Page
    box: Box
    labels: NDArray[np.int32]
    region_color: NDArray[np.int32]
    palette_rgb: NDArray[np.uint8]
    anchors_xy: NDArray[np.float32]
    number_size_pt: float
    line_width_pt: float
    numbered: bool = True
    ink: NDArray[np.bool_] | None = None
    polygons: tuple[NDArray[np.float64], ...] | None = None
    paints: tuple[Paint, ...] | None = None

    def number_of(self, color: int) -> int:
        """The number printed for palette index `color`: its paint's set number, else index + 1."""
        return color + 1 if self.paints is None else self.paints[color].number

    @property
    def region_count(self) -> int:
        return int(self.region_color.shape[0])

    @property
    def color_count(self) -> int:
        return int(self.palette_rgb.shape[0])

    def check(self) -> None:
        """Assert the structural invariants (a failure is a bug in the analysis that made it)."""
        h, w = self.labels.shape
        assert (h, w) == (self.box.height, self.box.width), (self.labels.shape, self.box)
        assert self.labels.dtype == np.int32
        assert self.region_color.dtype == np.int32
        assert self.palette_rgb.dtype == np.uint8 and self.palette_rgb.shape[1] == 3
        assert self.anchors_xy.shape == (self.region_count, 2)
        assert int(self.labels.min()) == 0 and int(self.labels.max()) == self.region_count - 1
        assert int(self.region_color.min()) >= 0
        assert int(self.region_color.max()) < self.color_count
        art = self.page.art
        assert art.x <= self.box.x and self.box.x + self.box.width <= art.x + art.width
        assert art.y <= self.box.y and self.box.y + self.box.height <= art.y + art.height
        if self.ink is not None:
            assert self.ink.shape == self.labels.shape
        if self.polygons is not None:
            assert len(self.polygons) == self.region_count
        if self.paints is not None:
            assert [p.rgb for p in self.paints] == [tuple(int(v) for v in c) for c in self.palette_rgb]
            assert len({p.number for p in self.paints}) == len(self.paints)
