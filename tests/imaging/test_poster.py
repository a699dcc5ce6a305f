from __future__ import annotations

import io
from functools import cache

import numpy as np
import pypdf
import pytest
from synthetic_artworks import IMAGES, TEST_COLORS
from test_cbn import _assert_legible

from mosaic.imaging.artwork import Artwork, page_for
from mosaic.imaging.cbn import cbn_artwork, segmentation_dpi
from mosaic.imaging.decode import decode_photo
from mosaic.imaging.mosaic import hex_artwork, voronoi_artwork
from mosaic.imaging.options import InvalidOption, parse_options
from mosaic.imaging.pipeline import generate
from mosaic.imaging.poster import OVERLAP_IN, layout, poster_page, poster_pdf

COFFEE = (IMAGES / "coffee.png").read_bytes()
ANALYSE = {"cbn": cbn_artwork, "hex": hex_artwork, "voronoi": voronoi_artwork}


@cache
def _poster_artwork(mode: str, tiles: int) -> Artwork:
    page = poster_page("letter", tiles) if tiles > 1 else page_for("letter")
    photo = decode_photo(COFFEE, max_side_px=max(page.art.width, page.art.height))
    return ANALYSE[mode](photo, page=page, colors=TEST_COLORS)  # type: ignore[operator]


@cache
def _poster(mode: str, tiles: int = 2) -> bytes:
    return poster_pdf(_poster_artwork(mode, tiles), page="letter", tiles=tiles, title="Coffee")


def _read(pdf: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(pdf))


@pytest.mark.parametrize("mode", ["cbn", "hex", "voronoi"])
def test_a_poster_is_its_map_its_sheets_and_its_color_key_on_letter_pages(mode: str) -> None:
    reader = _read(_poster(mode))
    assert len(reader.pages) == 1 + 4 + 1
    for page in reader.pages:
        assert [float(v) for v in page.mediabox] == [0, 0, 612, 792]
        assert "/TrimBox" in page and "/BleedBox" in page
        assert [float(v) for v in page.trimbox] == [0, 0, 612, 792]
    texts = [page.extract_text() for page in reader.pages]
    assert "poster of 2 × 2 sheets" in texts[0] and all(name in texts[0] for name in ("A1", "A2", "B1", "B2"))
    assert "Sheet B2" in texts[4]
    assert "color key" in texts[5]


def test_a_poster_embeds_its_font() -> None:
    for page in _read(_poster("hex")).pages:
        for font in page["/Resources"]["/Font"].values():
            descendant = font.get_object()["/DescendantFonts"][0].get_object()
            assert "/FontFile2" in descendant["/FontDescriptor"].get_object()
            assert "DejaVuSans" in str(font.get_object()["/BaseFont"])


def test_neighbouring_sheets_repeat_the_same_overlap_strip() -> None:
    reader = _read(_poster("cbn"))
    sheets = [np.asarray(page.images[0].image.convert("L")) for page in reader.pages[1:5]]
    strip = round(OVERLAP_IN * 300)
    a1, a2, b1 = sheets[0], sheets[1], sheets[2]
    assert a1.shape == (3000, 2250)
    assert np.array_equal(a1[:, -strip:], a2[:, :strip]), "A1's right strip is A2's left strip"
    assert np.array_equal(a1[-strip:, :], b1[:strip, :]), "A1's bottom strip is B1's top strip"
    assert not np.array_equal(a1[:, -2 * strip : -strip], a2[:, strip : 2 * strip]), "only the strip repeats"
    assert (a1 < 128).any() and (a2 < 128).any(), "each sheet carries part of the picture"


def test_registration_marks_lie_in_the_shared_strips_at_the_same_poster_places() -> None:
    plan = layout("letter", 3)
    for row in range(3):
        for column in range(3):
            area = plan.area(row, column)
            marks = plan.marks(row, column)
            neighbours = (row > 0) + (row < 2) + (column > 0) + (column < 2)
            assert len(marks) == 2 * neighbours
            assert all(area.x <= x <= area.x + area.width and area.y <= y <= area.y + area.height for x, y in marks)
            if column < 2:
                right = set(plan.marks(row, column + 1))
                shared = [m for m in marks if m[0] > area.x + area.width - plan.overlap_px]
                assert shared and set(shared) <= right
            if row < 2:
                below = set(plan.marks(row + 1, column))
                shared = [m for m in marks if m[1] > area.y + area.height - plan.overlap_px]
                assert shared and set(shared) <= below


def test_the_poster_is_analysed_at_full_size_so_it_has_many_more_regions_of_the_same_print_size() -> None:
    page, poster = _poster_artwork("cbn", 1), _poster_artwork("cbn", 2)
    width, height = layout("letter", 2).size
    assert (poster.page.width_px, poster.page.height_px) == (width, height)
    assert poster.number_size_pt == page.number_size_pt and poster.line_width_pt == page.line_width_pt
    # coffee.png is 0.26 MP: past its own detail, more paper adds fewer regions than it adds area
    assert poster.region_count >= 1.5 * page.region_count, (poster.region_count, page.region_count)
    hexes_page, hexes_poster = _poster_artwork("hex", 1), _poster_artwork("hex", 2)
    assert hexes_poster.region_count >= 3 * hexes_page.region_count, "cells keep their size on paper"


def test_the_same_poster_request_gives_the_same_bytes_on_sheets_turned_to_the_picture() -> None:
    options = parse_options({"mode": "hex", "tiles": "2x2"})
    first = generate(COFFEE, options)
    assert (first.media_type, first.extension) == ("application/pdf", "pdf")
    assert first.data == generate(COFFEE, options).data
    pages = _read(first.data).pages
    assert len(pages) == 6
    assert decode_photo(COFFEE).shape[1] > decode_photo(COFFEE).shape[0], "a wide photo"
    sizes = [tuple(float(v) for v in page.mediabox[2:]) for page in pages]
    assert sizes == [(792, 612)] * 5 + [(612, 792)], "map and sheets landscape, the color key upright"
    assert all([float(v) for v in page.trimbox] == [0, 0, *size] for page, size in zip(pages, sizes, strict=True))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"mode": "cbn", "tiles": "9x9"}, "tiles"),
        ({"mode": "cbn", "tiles": "3"}, "tiles"),
        ({"mode": "lineart", "tiles": "2x2"}, "tiles"),
        ({"mode": "ai", "tiles": "3x3"}, "tiles"),
        ({"mode": "hex", "tiles": "2x2", "output": "zip"}, "output"),
    ],
)
def test_a_poster_field_that_cannot_be_made_is_refused_naming_it(fields: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidOption) as refused:
        parse_options(fields)
    assert refused.value.field == field
    assert parse_options({"mode": "voronoi", "tiles": "3x3"}).sheets == 9


def test_segmentation_works_at_the_photos_own_resolution_where_it_is_below_100_dpi() -> None:
    assert segmentation_dpi(1732, 2850) == 100, "a 2 MP photo on a Letter page is reduced to 100 dpi"
    assert segmentation_dpi(1732, 8676) == 59, "on a 3×3 poster it is not enlarged to 100 dpi first"
    assert segmentation_dpi(240, 2250) == 40, "a thumbnail is still enlarged to 40 dpi"


def test_a_poster_segmented_at_the_photos_resolution_still_gives_every_region_room_for_its_number() -> None:
    art = _poster_artwork("cbn", 2)
    photo = decode_photo(COFFEE)
    assert segmentation_dpi(photo.shape[1], art.box.width) < 100, "coffee.png is enlarged on a 2×2 poster"
    art.check()
    _assert_legible(art, "standard")


def test_the_same_cbn_poster_request_gives_the_same_bytes() -> None:
    options = parse_options({"mode": "cbn", "colors": "8", "tiles": "2x2"})
    assert generate(COFFEE, options).data == generate(COFFEE, options).data
