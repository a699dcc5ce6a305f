"""Pointy-topped hexagons tiling a box, cut cleanly at its edges.

The cell width is the distance between the centres of two neighbours in a row (flat side to flat
side). It is adjusted by a few percent so that a whole number of cells spans the box exactly, and
the row pitch so that the top and bottom edges cut the first and last rows where their slanted
sides begin: no sliver of a row beyond is left. Every other row then starts and ends with half a
cell; when such a half cannot hold the number, it is merged with its inner neighbour.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

from mosaic.imaging.cells import CellGeometry, Polygon, geometry_from_pieces, number_anchors

SQRT3: Final = math.sqrt(3.0)
HEX_EPS: Final = 1e-6  # px: vertices closer than this are one vertex
HEX_COLUMNS_MIN: Final = 1


def hex_layout(*, width: float, height: float, cell_width_px: float) -> tuple[int, float, int, float]:
    """(columns, cell width, rows, cell height) fitting the box; the hexagon is ~regular."""
    assert width > 0 and height > 0 and cell_width_px > 0
    columns = max(HEX_COLUMNS_MIN, round(width / cell_width_px))
    cell_w = width / columns
    regular_h = 2.0 * cell_w / SQRT3
    # height = (rows - 1) · ¾h + ½h: the first and last rows lose their pointed caps.
    rows = max(1, round((height - 0.5 * regular_h) / (0.75 * regular_h) + 1.0))
    cell_h = height / (0.75 * (rows - 1) + 0.5)
    return columns, cell_w, rows, cell_h


def _clip_to_box(polygon: Polygon, width: float, height: float) -> Polygon:
    """Sutherland–Hodgman clip of a convex polygon to [0, width] × [0, height]."""
    points = [tuple(p) for p in polygon.tolist()]
    for axis, bound, keep_below in ((0, 0.0, False), (0, width, True), (1, 0.0, False), (1, height, True)):

        def inside(
            p: tuple[float, ...], axis: int = axis, bound: float = bound, keep_below: bool = keep_below
        ) -> bool:
            return p[axis] <= bound + HEX_EPS if keep_below else p[axis] >= bound - HEX_EPS

        clipped: list[tuple[float, ...]] = []
        for k, current in enumerate(points):
            previous = points[k - 1]
            if inside(current) != inside(previous):
                t = (bound - previous[axis]) / (current[axis] - previous[axis])
                clipped.append(tuple(a + t * (b - a) for a, b in zip(previous, current, strict=True)))
            if inside(current):
                clipped.append(current)
        points = clipped
    return _simplified(np.array(points, dtype=np.float64))


def _simplified(polygon: Polygon) -> Polygon:
    """Drop repeated and collinear vertices."""
    keep = np.linalg.norm(polygon - np.roll(polygon, 1, axis=0), axis=1) > HEX_EPS
    polygon = polygon[keep]
    before, after = np.roll(polygon, 1, axis=0), np.roll(polygon, -1, axis=0)
    u, v = polygon - before, after - polygon
    cross = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]
    return np.ascontiguousarray(polygon[np.abs(cross) > HEX_EPS])


def merged(a: Polygon, b: Polygon) -> Polygon:
    """The outline of two polygons of the same orientation that share exactly one whole edge."""
    count_a, count_b = len(a), len(b)
    for i in range(count_a):
        p, q = a[i], a[(i + 1) % count_a]
        for j in range(count_b):
            if np.allclose(b[j], q, atol=HEX_EPS) and np.allclose(b[(j + 1) % count_b], p, atol=HEX_EPS):
                ring_a = np.roll(a, -(i + 1), axis=0)  # q … p
                ring_b = np.roll(b, -(j + 2), axis=0)[: count_b - 2]  # after p … before q
                return _simplified(np.concatenate([ring_a, ring_b]))
    raise AssertionError("the polygons share no edge")


def _hexagon(cell_w: float, cell_h: float) -> Polygon:
    """(6, 2) vertices of a pointy-topped hexagon centred at 0, clockwise on the page."""
    unit = np.array([[0.0, -0.5], [0.5, -0.25], [0.5, 0.25], [0.0, 0.5], [-0.5, 0.25], [-0.5, -0.25]])
    return np.asarray(unit * np.array([cell_w, cell_h]), dtype=np.float64)


def _row_cells(
    row: int, *, columns: int, cell_w: float, cell_h: float, width: float, height: float
) -> list[Polygon]:
    """The hexagons of one row, left to right, clipped to the box where they cross it."""
    centre_y = 0.25 * cell_h + row * 0.75 * cell_h
    offset = 0.5 * cell_w if row % 2 == 0 else 0.0
    count = columns if row % 2 == 0 else columns + 1
    centres_x = offset + cell_w * np.arange(count)
    hexagons = (
        _hexagon(cell_w, cell_h)[None, :, :]
        + np.stack([centres_x, np.full(count, centre_y)], axis=1)[:, None, :]
    )
    edge_row = row == 0 or centre_y + 0.5 * cell_h > height
    return [
        _clip_to_box(h, width, height) if edge_row or k in (0, count - 1) else h
        for k, h in enumerate(hexagons)
    ]


def _half_cell_holds(cell_w: float, cell_h: float, number_target_pt: float) -> bool:
    """Whether the half hexagon that ends every other row holds a `number_target_pt` number."""
    half = _clip_to_box(_hexagon(cell_w, cell_h), cell_w, cell_h)  # the right half
    return bool(number_anchors([half])[1][0] >= number_target_pt)


def hex_cells(*, width: int, height: int, cell_width_px: float, number_target_pt: float) -> CellGeometry:
    """Tile the box [0, width] × [0, height] (300 dpi px) with hexagons about `cell_width_px` wide.

    A half cell at the end of an odd row that cannot hold a `number_target_pt` number is merged
    with its inner neighbour (the number then goes in the neighbour's part).
    """
    columns, cell_w, rows, cell_h = hex_layout(width=width, height=height, cell_width_px=cell_width_px)
    merge_ends = columns >= 2 and not _half_cell_holds(cell_w, cell_h, number_target_pt)
    pieces: list[Polygon] = []
    piece_cell: list[int] = []
    polygons: list[Polygon] = []
    for row in range(rows):
        cells = _row_cells(row, columns=columns, cell_w=cell_w, cell_h=cell_h, width=width, height=height)
        for index, cell in enumerate(cells):
            pieces.append(cell)
            if merge_ends and row % 2 == 1 and index in (1, len(cells) - 1):
                piece_cell.append(len(polygons) - 1)
                polygons[-1] = merged(polygons[-1], cell)
            else:
                piece_cell.append(len(polygons))
                polygons.append(cell)
    return geometry_from_pieces(pieces, np.array(piece_cell, dtype=np.int32), tuple(polygons))
