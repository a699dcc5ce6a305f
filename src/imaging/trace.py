"""Vector outlines of the regions of an `Artwork`, for the SVG and the PDF.

Mosaic cells come with exact polygons. Segmented regions (cbn, line art) are polygonised from the
label map along pixel edges (`rasterio.features.shapes`, GDAL's polygoniser), so two neighbours
share every border point for point. Each ring is then drawn through the midpoints of its unit pixel
edges, except where three regions meet (the frame counting as one) or a ring touches itself: a
staircase becomes the line it steps along, and both sides of a border move alike. Last, the whole
set is simplified as a coverage (`shapely.coverage_simplify`), which moves each shared border once
for both sides. The outlines therefore tile the art box with no gap and no overlap, and a border is
stroked in one place from either side. Outer rings and holes are kept apart, so a fill with the
even-odd rule is exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import rasterio.features
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Polygon

from mosaic.imaging.artwork import Artwork, pt_from_px

SIMPLIFY_PX: Final = 1.5  # coverage simplification tolerance, in print pixels (0.13 mm)
# How far simplification may move a region's outline from where corner cutting drew it.
# Visvalingam-Whyatt drops vertices by the area they span, so a region only a few pixels across can
# lose most of itself (an L of three pixels becomes a triangle of one): then the whole coverage is
# simplified again, less.
SHIFT_PX_MAX: Final = 1.5
# Only pieces this small can lose most of themselves, and only they are measured: the distance between
# two outlines costs the product of their points, a second a photo for its large regions.
SMALL_PIECE_AREA_PX2: Final = 64.0
SIMPLIFY_ROUNDS_MAX: Final = 4  # halving the tolerance each round; the last round does not simplify
# Pixel edges are cut into unit segments before the corners are cut: a neighbour's corner in the
# middle of a long straight edge (a T-junction) must be a vertex of both sides for them to match.
UNIT_EDGE_PX: Final = 1.0
# A vertex met this many times, counting each ring through it and the frame, is a junction or a
# ring touching itself: it stays where it is. Two means a border's own point between two regions.
JUNCTION_MEETINGS: Final = 3

Ring = NDArray[np.float64]  # (K, 2) x, y in `labels` pixel coordinates (pixel centres are integers)


@dataclass(frozen=True, slots=True)
class Outline:
    """One region's boundary: its outer rings (one per connected piece) and the rings of its holes.

    Stroking the outer rings of every region draws every border; filling a region's outer rings
    painter-style, larger regions first, or all its rings with the even-odd rule, paints it exactly.
    """

    outers: tuple[Ring, ...]
    holes: tuple[Ring, ...]

    @property
    def rings(self) -> tuple[Ring, ...]:
        return self.outers + self.holes

    @property
    def area_px(self) -> float:
        """Area enclosed by the outer rings (shoelace), holes not subtracted: the painter's key."""
        total = 0.0
        for ring in self.outers:
            x, y = ring[:, 0], ring[:, 1]
            total += 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
        return total


def region_outlines(artwork: Artwork) -> list[Outline]:
    """Return the outline of each region 0..R-1 (for mosaics, its exact cell polygon).

    The order of regions and rings is fixed by the label map alone, so vector files are
    deterministic.
    """
    if artwork.polygons is not None:
        # Already in `labels` coordinates (`cells.artwork_xy_from_cell_xy`): they tile the box as is.
        return [Outline((np.asarray(p, dtype=np.float64),), ()) for p in artwork.polygons]
    return [_outline(region) for region in region_coverage(artwork.labels, artwork.region_count)]


def region_coverage(labels: NDArray[np.int32], count: int) -> list[Polygon | MultiPolygon]:
    """Each region of a label map as a polygon in pixel-edge coordinates, simplified as a coverage.

    Pixel (row i, column j) covers [j, j + 1] × [i, i + 1]. The polygons tile [0, W] × [0, H]: the
    union is the whole map, the pairwise intersections have no area, and neighbours meet on
    identical vertices. A region is a Polygon, or a MultiPolygon if it is several 4-connected
    pieces (which the analyses do not make, but which cost nothing to draw).

    Parameters
    ----------
    labels
        (H, W) int32 label map with regions 0..count-1, every one with some pixels.
    """
    pieces: list[Polygon] = []
    piece_region: list[int] = []
    for geometry, value in _pixel_edge_polygons(labels):
        rings = [np.asarray(ring, dtype=np.float64) for ring in geometry["coordinates"]]
        pieces.append(Polygon(rings[0], rings[1:]))
        piece_region.append(int(value))
    region_of_piece = np.asarray(piece_region, dtype=np.int64)
    assert np.array_equal(np.unique(region_of_piece), np.arange(count)), "a region has no pixels"
    exact = shapely.transform(shapely.segmentize(np.array(pieces), UNIT_EDGE_PX), np.round)
    height, width = labels.shape
    cut = _corners_cut(exact, width, height)
    simplified = _simplified(cut)
    order = np.argsort(region_of_piece, kind="stable")
    if len(pieces) == count:
        return list(simplified[order])
    grouped = shapely.multipolygons(simplified[order], indices=region_of_piece[order])
    return [parts.geoms[0] if len(parts.geoms) == 1 else parts for parts in grouped]


def _simplified(cut: NDArray[np.object_]) -> NDArray[np.object_]:
    """`cut` simplified as a coverage, as much as keeps every small piece within `SHIFT_PX_MAX` of itself."""
    is_small = shapely.area(cut) <= SMALL_PIECE_AREA_PX2
    small = cut[is_small]
    tolerance_px = SIMPLIFY_PX
    for _ in range(SIMPLIFY_ROUNDS_MAX - 1):
        # The frame is not simplified: GEOS would cut the box's corners.
        simplified: NDArray[np.object_] = shapely.coverage_simplify(
            cut, tolerance=tolerance_px, simplify_boundary=False
        )
        if not len(small) or _largest_shift_px(small, simplified[is_small]) <= SHIFT_PX_MAX:
            return simplified
        tolerance_px /= 2
    return cut


def _largest_shift_px(before: NDArray[np.object_], after: NDArray[np.object_]) -> float:
    return float(np.max(shapely.hausdorff_distance(before, after)))


def _corners_cut(polygons: NDArray[np.object_], width: int, height: int) -> NDArray[np.object_]:
    """Every ring through the midpoints of its unit edges, keeping its junctions (module docstring).

    `polygons` tile [0, width] × [0, height] on integer vertices, every edge one unit long. The
    result tiles the same box: a border's midpoints are the same from both sides, a kept vertex is
    kept by every ring through it, and the frame keeps its straight sides and corners (the caller
    leaves the frame out of simplification).
    """
    rings, polygon_of_ring = shapely.get_rings(polygons, return_index=True)
    coords, ring_of_coord = shapely.get_coordinates(rings, return_index=True)
    closing = np.append(ring_of_coord[1:] != ring_of_coord[:-1], True)  # a ring's repeated first point
    points, ring_of_point = coords[:-1][~closing[:-1]], ring_of_coord[:-1][~closing[:-1]]
    following = coords[1:][~closing[:-1]]  # the next point along the ring (the closing one last)
    x, y = points[:, 0].astype(np.int64), points[:, 1].astype(np.int64)
    key = x * (height + 1) + y
    _, inverse, meetings = np.unique(key, return_inverse=True, return_counts=True)
    on_frame = (x == 0) | (x == width) | (y == 0) | (y == height)
    box_corner = ((x == 0) | (x == width)) & ((y == 0) | (y == height))
    kept = (meetings[inverse] + on_frame >= JUNCTION_MEETINGS) | box_corner
    # Along the frame nothing is smoothed: only its junctions and the box's corners stay points.
    next_x, next_y = following[:, 0].astype(np.int64), following[:, 1].astype(np.int64)
    along_frame = (
        ((x == 0) & (next_x == 0))
        | ((x == width) & (next_x == width))
        | ((y == 0) & (next_y == 0))
        | ((y == height) & (next_y == height))
    )
    path = np.empty((2 * len(points), 2), dtype=np.float64)
    path[0::2], path[1::2] = points, (points + following) / 2.0
    chosen = np.empty(2 * len(points), dtype=bool)
    chosen[0::2], chosen[1::2] = kept, ~along_frame
    ring_ids = np.repeat(ring_of_point, 2)[chosen]
    cut_rings = shapely.linearrings(path[chosen], indices=ring_ids)
    result: NDArray[np.object_] = shapely.polygons(cut_rings, indices=polygon_of_ring)
    return result


def _pixel_edge_polygons(labels: NDArray[np.int32]) -> Iterator[tuple[dict[str, Any], float]]:
    """GeoJSON-like polygons of the 4-connected pieces of equal value, and each piece's value."""
    shapes: Iterator[tuple[dict[str, Any], float]] = rasterio.features.shapes(
        np.ascontiguousarray(labels, dtype=np.int32), connectivity=4
    )
    return shapes


def _outline(region: Polygon | MultiPolygon) -> Outline:
    """Rings without the closing point, shifted so pixel centres sit at integers."""
    parts = region.geoms if isinstance(region, MultiPolygon) else (region,)
    outers = tuple(np.asarray(part.exterior.coords, dtype=np.float64)[:-1] - 0.5 for part in parts)
    holes = tuple(
        np.asarray(ring.coords, dtype=np.float64)[:-1] - 0.5 for part in parts for ring in part.interiors
    )
    return Outline(outers, holes)


def page_pt_from_art_px(artwork: Artwork, points_xy: NDArray[np.float64]) -> NDArray[np.float64]:
    """Convert (K, 2) `labels` pixel coordinates (pixel centres at integers) to page points (pt)."""
    offset = np.array([artwork.box.x + 0.5, artwork.box.y + 0.5])
    scale = pt_from_px(1.0)
    result: NDArray[np.float64] = (np.asarray(points_xy, dtype=np.float64) + offset) * scale
    return result
