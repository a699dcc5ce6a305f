"""Artworks with known answers, built without any analysis: grids of rectangles and nested rings."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.artwork import Artwork, Box, page_for
from mosaic.imaging.options import LocalMode as Mode
from mosaic.imaging.options import PageChoice as PageName

PALETTE_20 = np.array(
    [
        [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
        [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
        [0, 128, 128], [220, 190, 255], [170, 110, 40], [255, 250, 200], [128, 0, 0],
        [170, 255, 195], [128, 128, 0], [255, 215, 180], [0, 0, 128], [128, 128, 128],
    ],
    dtype=np.uint8,
)


def _centred_box(page_name: PageName, width: int, height: int) -> Box:
    art = page_for(page_name).art
    return Box(art.x + (art.width - width) // 2, art.y + (art.height - height) // 2, width, height)


def grid_artwork(
    *,
    page_name: PageName = "letter",
    mode: Mode = "cbn",
    cells_x: int = 9,
    cells_y: int = 11,
    colors: int = 12,
    cell_px: int = 200,
) -> Artwork:
    """A `cells_x` × `cells_y` grid of square regions colored round-robin, numbers at the centres."""
    width, height = cells_x * cell_px, cells_y * cell_px
    rows, cols = np.mgrid[0:height, 0:width]
    labels = ((rows // cell_px) * cells_x + cols // cell_px).astype(np.int32)
    count = cells_x * cells_y
    region_color = (np.arange(count) * 7 % colors).astype(np.int32)
    cy, cx = np.divmod(np.arange(count), cells_x)
    anchors = np.stack([cx * cell_px + (cell_px - 1) / 2, cy * cell_px + (cell_px - 1) / 2], axis=1)
    polygons = None
    if mode in ("hex", "voronoi", "square"):
        polygons = tuple(
            np.array([[x, y], [x + cell_px, y], [x + cell_px, y + cell_px], [x, y + cell_px]], float)
            for x, y in zip(cx * cell_px, cy * cell_px, strict=True)
        )
    artwork = Artwork(
        mode=mode,
        page=page_for(page_name),
        box=_centred_box(page_name, width, height),
        labels=labels,
        region_color=region_color,
        palette_rgb=PALETTE_20[:colors].copy(),
        anchors_xy=anchors.astype(np.float32),
        number_size_pt=8.0,
        line_width_pt=0.75,
        polygons=polygons,
    )
    artwork.check()
    return artwork


def rings_artwork(*, page_name: PageName = "letter", lineart: bool = False) -> Artwork:
    """Background, a ring with a hole and a disc inside the hole: three regions, one of them holed."""
    size = 1200
    rows, cols = np.mgrid[0:size, 0:size]
    radius = np.hypot(rows - size / 2, cols - size / 2)
    labels = np.zeros((size, size), dtype=np.int32)
    labels[radius < 500] = 1
    labels[radius < 250] = 2
    ink = None
    if lineart:
        ink = np.zeros((size, size), dtype=bool)
        ink[np.abs(radius - 500) < 4] = True
        ink[np.abs(radius - 250) < 4] = True
    anchors = np.array([[60.0, 60.0], [size / 2, size / 2 - 375], [size / 2, size / 2]], dtype=np.float32)
    artwork = Artwork(
        mode="lineart" if lineart else "cbn",
        page=page_for(page_name),
        box=_centred_box(page_name, size, size),
        labels=labels,
        region_color=np.array([0, 1, 2], dtype=np.int32),
        palette_rgb=np.array([[250, 250, 245], [40, 90, 200], [240, 200, 30], [200, 40, 40]], dtype=np.uint8),
        anchors_xy=anchors,
        number_size_pt=10.0,
        line_width_pt=1.0,
        numbered=not lineart,
        ink=ink,
    )
    artwork.check()
    return artwork


# --- artworks from the fixture photos, made once per test session -------------------------------

IMAGES = Path(__file__).resolve().parents[1] / "fixtures" / "images"
PHOTO_NAMES = ("astronaut", "camera", "chelsea", "coffee", "color", "logo")
# Where the astronaut's eyes and mouth are in astronaut.png (x0, x1, y0, y1), found by looking.
ASTRONAUT_FEATURES = {
    "left eye": (188, 216, 92, 110),
    "right eye": (235, 259, 92, 110),
    "mouth": (200, 247, 136, 154),
}
NUMBERED_MODES: tuple[Mode, ...] = ("hex", "voronoi", "square", "cbn")
ALL_MODES: tuple[Mode, ...] = (*NUMBERED_MODES, "lineart")
TEST_COLORS = 12


def decoded_photo(name: str) -> NDArray[np.uint8]:
    """Fixture photo `name` decoded afresh, at the size a Letter page's art box needs."""
    from mosaic.imaging.decode import decode_photo

    page = page_for("letter")
    data = (IMAGES / f"{name}.png").read_bytes()
    return decode_photo(data, max_side_px=max(page.art.width, page.art.height))


@cache
def photo(name: str) -> NDArray[np.uint8]:
    """`decoded_photo(name)`, decoded once per test session."""
    return decoded_photo(name)


def analysed(rgb: NDArray[np.uint8], mode: Mode, page_name: PageName = "letter") -> Artwork:
    """The artwork of `rgb` in `mode`, made afresh, at its default level and 12 colors."""
    page = page_for(page_name)
    if mode == "hex":
        from mosaic.imaging.mosaic import hex_artwork

        return hex_artwork(rgb, page=page, colors=TEST_COLORS)
    if mode == "voronoi":
        from mosaic.imaging.mosaic import voronoi_artwork

        return voronoi_artwork(rgb, page=page, colors=TEST_COLORS)
    if mode == "square":
        from mosaic.imaging.mosaic import square_artwork

        return square_artwork(rgb, page=page, colors=TEST_COLORS)
    if mode == "cbn":
        from mosaic.imaging.cbn import cbn_artwork

        return cbn_artwork(rgb, page=page, colors=TEST_COLORS)
    from mosaic.imaging.lineart import lineart_artwork

    return lineart_artwork(rgb, page=page)


@cache
def photo_artwork(name: str, mode: Mode, page_name: PageName = "letter") -> Artwork:
    """The artwork of fixture photo `name` in `mode` at its default level and 12 colors, made once."""
    return analysed(photo(name), mode, page_name)
