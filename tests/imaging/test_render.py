from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image
from synthetic_artworks import (
    NUMBERED_MODES,
    PHOTO_NAMES,
    TEST_COLORS,
    grid_artwork,
    photo_artwork,
    rings_artwork,
)

from mosaic.imaging.artwork import Artwork, page_for, pt_from_px
from mosaic.imaging.beauty import beauty_image
from mosaic.imaging.legend import footer_text, legend_page
from mosaic.imaging.render import (
    NUMBER_GREY,
    answer_page,
    full_page,
    line_width_px,
    mystery_page,
    number_boxes,
    outline_mask,
    png_bytes,
    puzzle_grey,
)

PAGE_RENDERERS = (mystery_page, answer_page, legend_page, full_page)
PAGE_SIZES = {"letter": (2550, 3300), "a4": (2480, 3508)}
NUMBER_PT_MIN = {"hex": 6.0, "voronoi": 6.0, "square": 6.0, "cbn": 8.0}  # the default levels' legible minimum
LINE_PT_MIN = 0.75


def _ink_run_lengths(ink: NDArray[np.bool_]) -> NDArray[np.int64]:
    """(H, W): the length of the horizontal run of ink through each pixel (0 off the ink)."""
    padded = np.pad(ink, ((0, 0), (1, 1))).ravel().astype(np.int8)
    steps = np.diff(padded)
    lengths = np.flatnonzero(steps == -1) - np.flatnonzero(steps == 1)
    out = np.zeros(padded.shape, dtype=np.int64)
    out[padded.astype(bool)] = np.repeat(lengths, lengths)
    return out.reshape(ink.shape[0], ink.shape[1] + 2)[:, 1:-1]


def drawn_line_width_px(artwork: Artwork) -> int:
    """The thinnest run of ink across any border on the rendered puzzle page, in pixels.

    A run is measured along the rows through pixels left of a vertical border and along the
    columns through pixels above a horizontal one, on the whole page so the frame continues it.
    """
    page = puzzle_grey(artwork)
    ink = page == 0
    labels, box = artwork.labels, artwork.box
    across_x = np.zeros(page.shape, dtype=bool)
    across_y = np.zeros(page.shape, dtype=bool)
    art_x = across_x[box.y : box.y + box.height, box.x : box.x + box.width]
    art_y = across_y[box.y : box.y + box.height, box.x : box.x + box.width]
    art_x[:, :-1] = labels[:, :-1] != labels[:, 1:]
    art_y[:-1, :] = labels[:-1, :] != labels[1:, :]
    assert ink[across_x].all() and ink[across_y].all(), "a border is not inked"
    assert across_x.any() and across_y.any()
    runs_x = _ink_run_lengths(ink)[across_x]
    runs_y = _ink_run_lengths(ink.T).T[across_y]
    return int(min(runs_x.min(), runs_y.min()))


def check_numbers_clear(artwork: Artwork) -> None:
    """Every region's number ink lies inside it, on no line, and prints as numbers, not lines."""
    labels = artwork.labels
    lines = outline_mask(labels, width_px=line_width_px(artwork))
    page = puzzle_grey(artwork)
    box = artwork.box
    art = page[box.y : box.y + box.height, box.x : box.x + box.width]
    for region, (x0, y0, x1, y1) in enumerate(number_boxes(artwork)):
        assert 0 <= x0 < x1 <= labels.shape[1] and 0 <= y0 < y1 <= labels.shape[0], region
        assert (labels[y0:y1, x0:x1] == region).all(), f"number of region {region} leaves it"
        assert not lines[y0:y1, x0:x1].any(), f"number of region {region} touches a line"
        assert int(art[y0:y1, x0:x1].min()) >= NUMBER_GREY - 1, region


def test_pages_have_the_exact_print_size_and_300_dpi_for_each_page() -> None:
    for page_name, size in PAGE_SIZES.items():
        artwork = grid_artwork(page_name=page_name)
        for render in PAGE_RENDERERS:
            decoded = Image.open(io.BytesIO(png_bytes(render(artwork))))
            assert decoded.size == size, (render.__name__, page_name)
            assert decoded.info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_margins_are_at_least_half_an_inch_on_every_page() -> None:
    for page_name in PAGE_SIZES:
        for render in PAGE_RENDERERS:
            pixels = np.asarray(render(grid_artwork(page_name=page_name)).convert("L"))
            margin = 150
            assert (pixels[:margin] == 255).all() and (pixels[-margin:] == 255).all()
            assert (pixels[:, :margin] == 255).all() and (pixels[:, -margin:] == 255).all()


def test_outlines_are_shared_by_both_neighbours_at_the_line_width() -> None:
    labels = np.zeros((20, 20), dtype=np.int32)
    labels[:, 10:] = 1
    mask = outline_mask(labels, width_px=4)
    assert mask[:, 8:12].all() and not mask[:, :8].any() and not mask[:, 12:].any()


@pytest.mark.parametrize("line_width_pt", [0.75, 0.8, 0.9, 1.0, 1.5])
def test_the_drawn_lines_are_never_thinner_than_the_requested_width(line_width_pt: float) -> None:
    artwork = dataclasses.replace(grid_artwork(), line_width_pt=line_width_pt)
    drawn_px = drawn_line_width_px(artwork)
    assert pt_from_px(drawn_px) >= line_width_pt
    assert pt_from_px(drawn_px - 1) < line_width_pt  # and no more than a pixel thicker


def test_every_number_is_inside_its_region_and_clear_of_the_lines_on_synthetic_art() -> None:
    check_numbers_clear(grid_artwork(colors=20))
    check_numbers_clear(rings_artwork())


def test_the_answer_paints_each_region_in_its_palette_color() -> None:
    artwork = grid_artwork()
    pixels = np.asarray(answer_page(artwork))
    for region, (x, y) in enumerate(artwork.anchors_xy):
        color = artwork.palette_rgb[artwork.region_color[region]]
        px, py = artwork.box.x + round(float(x)), artwork.box.y + round(float(y))
        assert (pixels[py, px] == color).all()


def test_the_line_art_puzzle_is_the_ink_and_carries_no_numbers() -> None:
    artwork = rings_artwork(lineart=True)
    assert artwork.ink is not None
    page = puzzle_grey(artwork)
    box = artwork.box
    art = page[box.y : box.y + box.height, box.x : box.x + box.width]
    assert ((art == 0) == artwork.ink).all()


def test_a_coloring_page_footer_counts_areas_and_a_numbered_page_footer_counts_colors() -> None:
    lineart = rings_artwork(lineart=True)
    numbered = grid_artwork()
    assert footer_text(lineart, "").startswith(f"Coloring page  ·  {lineart.region_count} areas  ·  ")
    assert f"  ·  {numbered.color_count} colors  ·  " in footer_text(numbered, "Our cat")
    assert footer_text(numbered, "Our cat").startswith("Our cat  ·  ")


def test_the_line_art_answer_keeps_the_ink_on_top_of_the_colors() -> None:
    artwork = rings_artwork(lineart=True)
    assert artwork.ink is not None
    pixels = np.asarray(answer_page(artwork))
    box = artwork.box
    art = pixels[box.y : box.y + box.height, box.x : box.x + box.width]
    assert (art[artwork.ink] == 0).all()
    assert (art[600, 600] == artwork.palette_rgb[2]).all()


def test_rerendering_gives_byte_identical_pngs() -> None:
    artwork = grid_artwork()
    for render in (*PAGE_RENDERERS, beauty_image):
        assert png_bytes(render(artwork)) == png_bytes(render(grid_artwork()))


def test_rendering_leaves_the_artwork_untouched() -> None:
    artwork = rings_artwork()
    labels, anchors = artwork.labels.copy(), artwork.anchors_xy.copy()
    full_page(artwork)
    answer_page(artwork)
    assert (artwork.labels == labels).all() and (artwork.anchors_xy == anchors).all()


@pytest.mark.parametrize("mode", NUMBERED_MODES)
@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_pages_from_every_fixture_photo_keep_the_printing_rules(name: str, mode: str) -> None:
    artwork = photo_artwork(name, mode)  # type: ignore[arg-type]
    artwork.check()
    assert artwork.color_count == TEST_COLORS
    assert artwork.number_size_pt >= NUMBER_PT_MIN[mode]
    drawn_pt = pt_from_px(drawn_line_width_px(artwork))
    assert drawn_pt >= max(LINE_PT_MIN, artwork.line_width_pt), (drawn_pt, artwork.line_width_pt)
    check_numbers_clear(artwork)
    assert mystery_page(artwork).size == PAGE_SIZES["letter"]
    assert full_page(artwork).size == PAGE_SIZES["letter"]


@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_line_art_pages_from_every_fixture_photo_have_the_exact_size(name: str) -> None:
    artwork = photo_artwork(name, "lineart")
    assert not artwork.numbered and artwork.ink is not None
    for render in PAGE_RENDERERS:
        assert render(artwork).size == PAGE_SIZES["letter"]


def test_a4_pages_from_a_photo_have_the_a4_size() -> None:
    artwork = photo_artwork("coffee", "hex", "a4")
    assert artwork.page == page_for("a4")
    assert full_page(artwork).size == PAGE_SIZES["a4"]

