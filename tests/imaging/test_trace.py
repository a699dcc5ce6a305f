"""Region outlines tile the label map's box exactly, whatever the shapes: shared borders, no gaps."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mosaic.imaging.regions import components
from mosaic.imaging.trace import _outline, region_coverage


def _check_tiles_the_box(labels: np.ndarray) -> list[shapely.Polygon | shapely.MultiPolygon]:
    count = int(labels.max()) + 1
    polygons = region_coverage(labels, count)
    height, width = labels.shape
    assert len(polygons) == count
    assert all(polygon.is_valid and not polygon.is_empty for polygon in polygons)
    assert shapely.coverage_is_valid(np.array(polygons))
    assert sum(polygon.area for polygon in polygons) == width * height
    assert shapely.union_all(polygons).symmetric_difference(shapely.box(0, 0, width, height)).area == 0
    return polygons


@settings(max_examples=150, deadline=None)
@given(arrays(np.int32, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=st.integers(0, 3)))
def test_any_label_map_gives_polygons_that_tile_its_box(values: np.ndarray) -> None:
    labels, _ = components(values)
    polygons = _check_tiles_the_box(labels)
    for region, polygon in enumerate(polygons):  # each outline stays around its own pixels
        rows, cols = np.nonzero(labels == region)
        centres = shapely.points(cols + 0.5, rows + 0.5)
        assert shapely.distance(polygon, centres).max() <= 1.0


@settings(max_examples=100, deadline=None)
@given(arrays(np.int32, st.tuples(st.integers(1, 10), st.integers(1, 10)), elements=st.integers(0, 2)))
def test_regions_in_several_pieces_still_tile_the_box(values: np.ndarray) -> None:
    labels = np.unique(values, return_inverse=True)[1].reshape(values.shape).astype(np.int32)
    _check_tiles_the_box(labels)


def test_a_checkerboard_of_single_pixel_regions_keeps_every_corner() -> None:
    values = (np.indices((6, 7)).sum(axis=0) % 2).astype(np.int32)
    labels, _ = components(values)
    polygons = _check_tiles_the_box(labels)
    assert all(polygon.area == 1.0 for polygon in polygons)


def test_a_region_in_two_pieces_touching_at_a_corner_is_one_outline_of_two_outer_rings() -> None:
    labels = np.array([[0, 1], [1, 0]], dtype=np.int32)  # the analyses never make this; still drawable
    polygons = _check_tiles_the_box(labels)
    assert [polygon.geom_type for polygon in polygons] == ["MultiPolygon", "MultiPolygon"]
    outline = _outline(polygons[0])
    assert len(outline.outers) == 2 and outline.holes == ()


def test_one_region_is_the_box_itself() -> None:
    polygons = _check_tiles_the_box(np.zeros((40, 30), dtype=np.int32))
    assert polygons[0].equals(shapely.box(0, 0, 30, 40))


def test_a_staircase_border_becomes_the_straight_line_it_steps_along() -> None:
    rows, cols = np.indices((60, 60))
    labels = (cols > rows).astype(np.int32)  # the border steps one pixel across per pixel down
    upper = _check_tiles_the_box(labels)[1]
    border = upper.exterior.coords
    assert len(border) <= 6  # a triangle (and at most the frame's cut corners), not 120 steps


def test_a_region_of_three_pixels_in_an_l_keeps_every_pixel_when_the_coverage_is_simplified() -> None:
    # Visvalingam-Whyatt at the usual tolerance turns this L into a triangle of a third of its area.
    values = np.array([[0, 0, 1], [1, 0, 1], [1, 1, 1]], dtype=np.int32)
    labels, _ = components(values)
    polygons = _check_tiles_the_box(labels)
    rows, cols = np.nonzero(labels == labels[0, 0])
    centres = shapely.points(cols + 0.5, rows + 0.5)
    assert shapely.distance(polygons[int(labels[0, 0])], centres).max() <= 1.0
