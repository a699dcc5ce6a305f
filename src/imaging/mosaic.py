"""Mystery mosaics: a photo as numbered hexagon (`hex`) or Voronoi (`voronoi`) cells.

Every cell of the placed box carries a number, background included, so blank cells give nothing
away; coloring each cell in its number's color reveals the picture. A cell's color is the mean of
its area in CIELAB, mapped to a palette of exactly `colors` colors chosen by an area-weighted
k-means over the cell means. The cells are exact polygons (`Artwork.polygons`, pixel centres at
integer coordinates, so the box's outline is [-0.5, W - 0.5] × [-0.5, H - 0.5]) and `labels` is
their raster at 300 dpi.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.artwork import Artwork, Box, Page, px_from_mm
from mosaic.imaging.cells import (
    MOSAIC_LINE_WIDTH_PT,
    NUMBER_PT_MIN,
    CellGeometry,
    artwork_xy_from_cell_xy,
    cell_means_lab,
    cell_palette,
    choose_number_size_pt,
    number_box_mm,
    rasterize,
)
from mosaic.imaging.decode import placed_box
from mosaic.imaging.hexgrid import SQRT3, hex_cells
from mosaic.imaging.options import Density
from mosaic.imaging.paintpick import pick_paints
from mosaic.imaging.palettes import Paint
from mosaic.imaging.voronoi import voronoi_cells

CELL_WIDTH_MM: Final[dict[Density, float]] = {
    "easy": 12.0,
    "standard": 8.0,
    "detailed": 6.0,
    "expert": 4.5,
}
NUMBER_PT: Final[dict[Density, float]] = {  # the size we aim for; smaller only where cells force it
    "easy": 12.0,
    "standard": 9.0,
    "detailed": 8.0,
    "expert": 7.0,
}
COLORS_MIN: Final = 4
COLORS_MAX: Final = 20


def _hex_holds(cell_width_mm: float, size_pt: float) -> bool:
    """Whether a regular pointy-topped hexagon `cell_width_mm` wide holds a `size_pt` number."""
    box_w, box_h = number_box_mm(size_pt)
    cell_h = 2.0 * cell_width_mm / SQRT3
    # The box's top corners must stay under the slanted sides: y = h/2 - h·x/(2w) at x = box_w/2.
    return box_w <= cell_width_mm and box_h / 2.0 <= cell_h / 2.0 - cell_h * box_w / (4.0 * cell_width_mm)


assert all(_hex_holds(width, NUMBER_PT_MIN) for width in CELL_WIDTH_MM.values())
assert all(_hex_holds(CELL_WIDTH_MM[d], NUMBER_PT[d]) for d in CELL_WIDTH_MM)


def hex_artwork(
    photo: NDArray[np.uint8],
    *,
    page: Page,
    colors: int,
    density: Density = "standard",
    paints: Sequence[Paint] | None = None,
) -> Artwork:
    """A hexagon mystery mosaic of `photo`.

    Parameters
    ----------
    photo
        (H, W, 3) uint8 RGB; not modified.
    page
        The page to lay it out for; the cells tile `placed_box(photo.shape[:2], page)`.
    colors
        Exactly this many palette colors, `COLORS_MIN`..`COLORS_MAX`.
    density
        Sets the cell width on paper (`CELL_WIDTH_MM`, flat side to flat side).
    paints
        A paint set: the `colors` paints of it that best render the cells are the palette.

    Returns
    -------
    Artwork
        Mode "hex", one region per cell, `polygons` set.
    """
    box = _checked_box(photo, page, colors)
    geometry = hex_cells(
        width=box.width,
        height=box.height,
        cell_width_px=px_from_mm(CELL_WIDTH_MM[density]),
        number_target_pt=NUMBER_PT[density],
    )
    return _artwork("hex", photo, page, box, geometry, colors=colors, density=density, seed=0, paints=paints)


def voronoi_artwork(
    photo: NDArray[np.uint8],
    *,
    page: Page,
    colors: int,
    density: Density = "standard",
    seed: int = 0,
    paints: Sequence[Paint] | None = None,
) -> Artwork:
    """A Voronoi mystery mosaic of `photo`, with smaller cells where the picture has detail.

    Parameters
    ----------
    photo
        (H, W, 3) uint8 RGB; not modified.
    page
        The page to lay it out for; the cells tile `placed_box(photo.shape[:2], page)`.
    colors
        Exactly this many palette colors, `COLORS_MIN`..`COLORS_MAX`.
    density
        Sets the cell width on paper (`CELL_WIDTH_MM`): cells range from about that width where
        the picture is busiest to 1.6 times it where it is flat.
    seed
        Seeds the cell sites; the same seed gives the same cells.
    paints
        A paint set: the `colors` paints of it that best render the cells are the palette.

    Returns
    -------
    Artwork
        Mode "voronoi", one region per cell, `polygons` set.
    """
    box = _checked_box(photo, page, colors)
    geometry = voronoi_cells(
        photo,
        width=box.width,
        height=box.height,
        cell_width_px=px_from_mm(CELL_WIDTH_MM[density]),
        number_target_pt=NUMBER_PT[density],
        seed=seed,
    )
    return _artwork(
        "voronoi", photo, page, box, geometry, colors=colors, density=density, seed=seed, paints=paints
    )


def _checked_box(photo: NDArray[np.uint8], page: Page, colors: int) -> Box:
    assert photo.ndim == 3 and photo.shape[2] == 3 and photo.dtype == np.uint8, photo.shape
    assert COLORS_MIN <= colors <= COLORS_MAX, colors
    return placed_box((int(photo.shape[0]), int(photo.shape[1])), page)


def _artwork(
    mode: Literal["hex", "voronoi"],
    photo: NDArray[np.uint8],
    page: Page,
    box: Box,
    geometry: CellGeometry,
    *,
    colors: int,
    density: Density,
    seed: int,
    paints: Sequence[Paint] | None = None,
) -> Artwork:
    labels = rasterize(geometry.pieces, geometry.piece_cell, height=box.height, width=box.width)
    means, areas = cell_means_lab(photo, labels, cell_count=geometry.cell_count)
    chosen = None if paints is None else pick_paints(means, paints, colors=colors, weights=areas, seed=seed)
    region_color, palette_rgb = cell_palette(means, areas, colors=colors, seed=seed, paints=chosen)
    artwork = Artwork(
        mode=mode,
        page=page,
        box=box,
        labels=labels,
        region_color=region_color,
        palette_rgb=palette_rgb,
        anchors_xy=artwork_xy_from_cell_xy(geometry.anchors_xy).astype(np.float32),
        number_size_pt=choose_number_size_pt(geometry.number_size_max_pt, target_pt=NUMBER_PT[density]),
        line_width_pt=MOSAIC_LINE_WIDTH_PT,
        polygons=tuple(artwork_xy_from_cell_xy(p) for p in geometry.polygons),
        paints=chosen,
    )
    artwork.check()
    return artwork
