"""The same photo and fields give byte-identical output: every fixture photo, every local mode."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_artworks import ALL_MODES, IMAGES, PHOTO_NAMES, analysed, decoded_photo, photo, photo_artwork

from mosaic.imaging.artwork import Artwork
from mosaic.imaging.options import LocalMode as Mode
from mosaic.imaging.render import mystery_page, png_bytes
from mosaic.imaging.svg import puzzle_svg


def _same_arrays(first: Artwork, again: Artwork) -> None:
    assert np.array_equal(first.labels, again.labels)
    assert np.array_equal(first.region_color, again.region_color)
    assert np.array_equal(first.palette_rgb, again.palette_rgb)
    assert np.array_equal(first.anchors_xy, again.anchors_xy)
    assert (first.ink is None) == (again.ink is None)
    if first.ink is not None and again.ink is not None:
        assert np.array_equal(first.ink, again.ink)
    assert len(first.polygons or ()) == len(again.polygons or ())
    assert all(np.array_equal(a, b) for a, b in zip(first.polygons or (), again.polygons or (), strict=True))


def test_the_tests_use_every_png_fixture_photo() -> None:
    assert sorted(PHOTO_NAMES) == sorted(path.stem for path in IMAGES.glob("*.png"))


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_a_rerun_on_every_fixture_photo_gives_a_byte_identical_page_and_svg(name: str, mode: Mode) -> None:
    first = photo_artwork(name, mode)  # made once this session, possibly by another test
    rgb = decoded_photo(name)
    assert np.array_equal(rgb, photo(name))
    again = analysed(rgb, mode)
    _same_arrays(first, again)
    assert png_bytes(mystery_page(again)) == png_bytes(mystery_page(first))
    assert puzzle_svg(again) == puzzle_svg(first)
