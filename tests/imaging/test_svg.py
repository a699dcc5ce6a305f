from __future__ import annotations

import functools
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import shapely
from synthetic_artworks import ALL_MODES, PHOTO_NAMES, grid_artwork, photo_artwork, rings_artwork

from mosaic.imaging.artwork import Artwork
from mosaic.imaging.options import LocalMode as Mode
from mosaic.imaging.svg import puzzle_svg
from mosaic.imaging.trace import page_pt_from_art_px

SVG = "{http://www.w3.org/2000/svg}"


def _parsed(artwork: Artwork) -> ET.Element:
    return ET.fromstring(puzzle_svg(artwork, title="Test & <check>"))


def _check_one_path_and_one_number_per_region(artwork: Artwork) -> None:
    root = _parsed(artwork)
    paths = root.findall(f".//{SVG}path")
    texts = root.findall(f".//{SVG}text")
    assert len(paths) == artwork.region_count
    assert len(texts) == (artwork.region_count if artwork.numbered else 0)
    for region, path in enumerate(paths):
        assert path.get("data-number") == str(int(artwork.region_color[region]) + 1)
    if artwork.numbered:
        assert [t.text for t in texts] == [str(int(c) + 1) for c in artwork.region_color]


def test_the_svg_has_one_path_per_region_and_one_number_per_numbered_region() -> None:
    _check_one_path_and_one_number_per_region(grid_artwork())
    _check_one_path_and_one_number_per_region(grid_artwork(mode="hex"))
    _check_one_path_and_one_number_per_region(rings_artwork())


def test_the_line_art_svg_has_one_path_per_region_and_no_numbers() -> None:
    _check_one_path_and_one_number_per_region(rings_artwork(lineart=True))


def test_the_line_art_svg_carries_the_ink_drawing_as_one_lossless_image() -> None:
    images = _parsed(rings_artwork(lineart=True)).findall(f".//{SVG}image")
    assert len(images) == 1
    assert images[0].get("href", "").startswith("data:image/png;base64,")


def test_a_region_with_a_hole_is_one_path_of_two_rings_filled_even_odd() -> None:
    root = _parsed(rings_artwork())
    ring = root.findall(f".//{SVG}path")[1]
    assert ring.get("d", "").count("M") == 2
    group = root.find(f"{SVG}g[@id='regions']")
    assert group is not None and group.get("fill-rule") == "evenodd"


@pytest.mark.parametrize(("page_name", "view_box"), [("letter", "0 0 612 792"), ("a4", "0 0 595 842")])
def test_the_view_box_is_the_page_in_points(page_name: str, view_box: str) -> None:
    root = _parsed(grid_artwork(page_name=page_name))  # type: ignore[arg-type]
    assert root.get("viewBox") == view_box
    assert re.fullmatch(r"[0-9.]+mm", root.get("width", ""))


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_the_svg_of_every_fixture_photo_parses_with_one_path_per_region(name: str, mode: Mode) -> None:
    _check_one_path_and_one_number_per_region(photo_artwork(name, mode))


def test_the_svg_is_byte_identical_on_a_rerun() -> None:
    assert puzzle_svg(rings_artwork()) == puzzle_svg(rings_artwork())
    artwork = photo_artwork("coffee", "voronoi")
    assert puzzle_svg(artwork) == puzzle_svg(artwork)


def _region_polygons(artwork: Artwork) -> list[shapely.Geometry]:
    """Each path of the SVG as the area it fills with the even-odd rule, in page points."""
    polygons = []
    for path in _parsed(artwork).findall(f".//{SVG}path"):
        rings = [
            shapely.Polygon([tuple(map(float, point.split(","))) for point in ring.split()])
            for ring in re.findall(r"M([^MZ]+)Z", path.get("d", ""))
        ]
        polygons.append(functools.reduce(shapely.symmetric_difference, rings))
    return polygons


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("name", ["astronaut", "chelsea"])
def test_the_svg_regions_tile_the_art_box_sharing_every_border(name: str, mode: Mode) -> None:
    artwork = photo_artwork(name, mode)
    polygons = _region_polygons(artwork)
    box = artwork.box
    corner = page_pt_from_art_px(artwork, np.array([[-0.5, -0.5], [box.width - 0.5, box.height - 0.5]]))
    art_box = shapely.box(*corner.reshape(-1))
    assert all(polygon.is_valid for polygon in polygons)
    # Neighbours meet on identical vertices (a gap or an overlap between them is an invalid edge)...
    assert shapely.coverage_is_valid(np.array(polygons))
    # ...and together they cover the box once: no hole is left between regions or at the frame.
    assert sum(polygon.area for polygon in polygons) == pytest.approx(art_box.area, rel=1e-9)
    assert shapely.union_all(polygons).symmetric_difference(art_box).area < 1e-9 * art_box.area
