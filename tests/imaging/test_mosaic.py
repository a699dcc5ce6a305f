from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from synthetic_artworks import PHOTO_NAMES, TEST_COLORS, photo, photo_artwork

from mosaic.imaging.artwork import Artwork, mm_from_px, page_for, px_from_mm, px_from_pt
from mosaic.imaging.cells import NUMBER_HEIGHT_EM, NUMBER_PT_MIN, NUMBER_WIDTH_EM, polygon_area
from mosaic.imaging.color import delta_e_2000, lab_from_rgb
from mosaic.imaging.decode import decode_photo, placed_box
from mosaic.imaging.legend import legend_entries
from mosaic.imaging.mosaic import CELL_WIDTH_MM, NUMBER_PT, hex_artwork, square_artwork, voronoi_artwork
from mosaic.imaging.options import Density
from mosaic.imaging.voronoi import voronoi_cells

IMAGES = Path(__file__).resolve().parents[1] / "fixtures" / "images"
LETTER = page_for("letter")
RED = (200, 30, 40)
BLUE = (20, 60, 190)


@cache
def _photo(name: str) -> NDArray[np.uint8]:
    return decode_photo((IMAGES / f"{name}.png").read_bytes())


def _two_colors(height: int = 300, width: int = 400) -> NDArray[np.uint8]:
    photo = np.empty((height, width, 3), dtype=np.uint8)
    photo[:, : width // 2] = RED
    photo[:, width // 2 :] = BLUE
    return photo


def _half_textured(height: int = 400, width: int = 400) -> NDArray[np.uint8]:
    """Left half: a fine random checkerboard (detail); right half: flat grey."""
    rng = np.random.default_rng(7)
    photo = np.full((height, width, 3), 128, dtype=np.uint8)
    blocks = rng.integers(0, 2, size=(height // 4, width // 8)).repeat(4, 0).repeat(4, 1)
    photo[:, : width // 2] = (blocks * 200 + 20).astype(np.uint8)[:, :, None]
    return photo


def _distinct_colors(rgb: NDArray[np.uint8]) -> int:
    return len(np.unique(rgb.reshape(-1, 3), axis=0))


def _number_corners_in_cells(artwork: Artwork) -> NDArray[np.bool_]:
    """(R,) whether the number box at `number_size_pt`, centred at each anchor, lies in its cell."""
    half_w = NUMBER_WIDTH_EM * px_from_pt(artwork.number_size_pt) / 2
    half_h = NUMBER_HEIGHT_EM * px_from_pt(artwork.number_size_pt) / 2
    inside = np.ones(artwork.region_count, dtype=bool)
    for dx, dy in ((0, 0), (-1, -1), (1, -1), (1, 1), (-1, 1), (0, -1), (0, 1), (-1, 0), (1, 0)):
        x = np.rint(artwork.anchors_xy[:, 0] + dx * half_w).astype(int)
        y = np.rint(artwork.anchors_xy[:, 1] + dy * half_h).astype(int)
        ok = (x >= 0) & (x < artwork.box.width) & (y >= 0) & (y < artwork.box.height)
        hit = np.zeros(artwork.region_count, dtype=bool)
        hit[ok] = artwork.labels[y[ok], x[ok]] == np.flatnonzero(ok)
        inside &= hit
    return inside


def test_a_flat_two_color_image_gives_cells_of_exactly_those_two_colors() -> None:
    artwork = hex_artwork(_two_colors(), page=LETTER, colors=4)
    middle = artwork.box.width / 2
    polygons = artwork.polygons or ()
    left = [k for k, p in enumerate(polygons) if p[:, 0].max() < middle - 4]
    right = [k for k, p in enumerate(polygons) if p[:, 0].min() > middle + 4]
    palette_lab = lab_from_rgb(artwork.palette_rgb)
    for color, pure in ((RED, left), (BLUE, right)):
        assert len(pure) > 50
        expected = lab_from_rgb(np.array(color, dtype=np.uint8))
        found = palette_lab[artwork.region_color[pure]]
        assert float(delta_e_2000(found, expected).max()) < 1.0


@pytest.mark.parametrize("make", [hex_artwork, voronoi_artwork, square_artwork])
def test_the_cells_tile_the_box_exactly(make: object) -> None:
    assert callable(make)
    artwork: Artwork = make(_photo("chelsea"), page=LETTER, colors=8, density="detailed")
    polygons = artwork.polygons
    assert polygons is not None and len(polygons) == artwork.region_count
    box_area = artwork.box.width * artwork.box.height
    assert sum(polygon_area(p) for p in polygons) == pytest.approx(box_area, rel=1e-9)
    for polygon in polygons:  # outline [-0.5, W - 0.5] × [-0.5, H - 0.5]: pixel centres at integers
        assert polygon[:, 0].min() >= -0.5 - 1e-9 and polygon[:, 0].max() <= artwork.box.width - 0.5 + 1e-9
        assert polygon[:, 1].min() >= -0.5 - 1e-9 and polygon[:, 1].max() <= artwork.box.height - 0.5 + 1e-9
    pixels = np.bincount(artwork.labels.ravel(), minlength=artwork.region_count)
    areas = np.array([polygon_area(p) for p in polygons])
    perimeters = np.array([np.linalg.norm(np.diff(p, axis=0, append=p[:1]), axis=1).sum() for p in polygons])
    assert np.all(np.abs(pixels - areas) <= perimeters / 2 + 4)  # a raster differs only along the edges


@pytest.mark.parametrize("density", list(CELL_WIDTH_MM))
@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_hex_cells_are_as_wide_on_paper_as_the_density_says(name: str, density: Density) -> None:
    artwork = hex_artwork(photo(name), page=LETTER, colors=6, density=density)
    widths = [np.ptp(p[:, 0]) for p in artwork.polygons or () if len(p) == 6]
    assert len(widths) > 10
    assert mm_from_px(float(np.median(widths))) == pytest.approx(CELL_WIDTH_MM[density], rel=0.05)
    assert artwork.number_size_pt >= NUMBER_PT_MIN
    assert artwork.line_width_pt >= 0.75


@pytest.mark.parametrize("density", list(CELL_WIDTH_MM))
@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_square_cells_are_a_grid_of_near_squares_as_wide_as_the_density_says(name: str, density: Density) -> None:
    artwork = square_artwork(photo(name), page=LETTER, colors=6, density=density)
    polygons = artwork.polygons or ()
    widths = np.array([np.ptp(p[:, 0]) for p in polygons])
    heights = np.array([np.ptp(p[:, 1]) for p in polygons])
    assert all(len(p) == 4 for p in polygons)
    assert np.ptp(widths) < 1e-6 and np.ptp(heights) < 1e-6, "every column and every row alike"
    assert mm_from_px(float(widths[0])) == pytest.approx(CELL_WIDTH_MM[density], rel=0.1)
    assert float(widths[0] / heights[0]) == pytest.approx(1.0, rel=0.1)
    assert artwork.number_size_pt == NUMBER_PT[density], "a square holds the level's number size"
    tops = np.array([p[:, 1].min() for p in polygons])
    lefts = np.array([p[:, 0].min() for p in polygons])
    assert np.all(np.lexsort((lefts, tops)) == np.arange(len(polygons))), "numbered row by row"


@pytest.mark.parametrize("density", ["standard", "expert"])
@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_voronoi_cells_are_well_shaped(name: str, density: Density) -> None:
    rgb = photo(name)
    box = placed_box((rgb.shape[0], rgb.shape[1]), LETTER)
    geometry = voronoi_cells(
        rgb,
        width=box.width,
        height=box.height,
        cell_width_px=px_from_mm(CELL_WIDTH_MM[density]),
        number_target_pt=NUMBER_PT[density],
        seed=0,
    )
    areas = np.array([polygon_area(p) for p in geometry.polygons])
    assert areas.max() / areas.min() <= 4.0


def test_voronoi_puts_more_cells_where_the_picture_has_detail() -> None:
    artwork = voronoi_artwork(_half_textured(), page=LETTER, colors=4)
    left = int((artwork.anchors_xy[:, 0] < artwork.box.width / 2).sum())
    right = artwork.region_count - left
    assert left > 1.5 * right


@pytest.mark.parametrize("name", PHOTO_NAMES)
@pytest.mark.parametrize("make", [hex_artwork, voronoi_artwork, square_artwork])
def test_every_photo_gives_a_valid_mosaic_with_every_cell_numbered(name: str, make: object) -> None:
    assert callable(make)
    artwork: Artwork = make(_photo(name), page=LETTER, colors=12)
    artwork.check()
    assert artwork.palette_rgb.shape == (12, 3)
    assert artwork.numbered and artwork.ink is None
    assert artwork.number_size_pt >= NUMBER_PT_MIN
    assert _number_corners_in_cells(artwork).all()


def test_a4_pages_and_twenty_colors_work() -> None:
    artwork = voronoi_artwork(_photo("coffee"), page=page_for("a4"), colors=20, density="easy")
    artwork.check()
    assert artwork.palette_rgb.shape == (20, 3)


def test_the_same_photo_and_seed_give_identical_mosaics() -> None:
    photo = _photo("color")
    kept = photo.copy()
    first = voronoi_artwork(photo, page=LETTER, colors=10, seed=3)
    second = voronoi_artwork(photo, page=LETTER, colors=10, seed=3)
    other = voronoi_artwork(photo, page=LETTER, colors=10, seed=4)
    assert np.array_equal(photo, kept)
    assert np.array_equal(first.labels, second.labels)
    assert np.array_equal(first.region_color, second.region_color)
    assert np.array_equal(first.palette_rgb, second.palette_rgb)
    assert np.array_equal(first.anchors_xy, second.anchors_xy)
    assert all(np.array_equal(a, b) for a, b in zip(first.polygons or (), second.polygons or (), strict=True))
    assert not np.array_equal(first.labels, other.labels)


@pytest.mark.parametrize("mode", ["hex", "voronoi", "square"])
@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_every_legend_color_colors_some_cell_unless_the_photo_has_fewer_colors(name: str, mode: str) -> None:
    artwork = photo_artwork(name, mode)  # type: ignore[arg-type]  # default density, 12 colors
    counts = [entry.count for entry in legend_entries(artwork)]
    assert min(counts) > 0 or _distinct_colors(photo(name)) < TEST_COLORS, counts
    assert counts == sorted(counts, key=lambda count: count == 0), "a used color comes after an unused one"


@pytest.mark.parametrize("make", [hex_artwork, voronoi_artwork, square_artwork])
def test_a_flat_photo_numbers_its_one_color_first_and_leaves_the_invented_ones_unused(make: object) -> None:
    assert callable(make)
    artwork: Artwork = make(np.full((300, 400, 3), 200, dtype=np.uint8), page=LETTER, colors=4)
    counts = [entry.count for entry in legend_entries(artwork)]
    assert counts == [artwork.region_count, 0, 0, 0]
    assert (artwork.palette_rgb[0] == 200).all()
