"""Square cells tiling a box: the classic numbered grid of a mystery picture.

The cell width is adjusted by a few percent on each axis so that whole columns and rows span the
box exactly: no sliver of a cell is left at any edge, and every cell is a rectangle within a few
percent of square, so every one holds the same number.
"""

from __future__ import annotations

import numpy as np

from mosaic.imaging.cells import CellGeometry, Polygon, geometry_from_pieces

SQUARE_CELLS_PER_SIDE_MIN = 1


def square_layout(*, width: float, height: float, cell_width_px: float) -> tuple[int, float, int, float]:
    """(columns, cell width, rows, cell height) spanning the box exactly, cells about `cell_width_px`."""
    assert width > 0 and height > 0 and cell_width_px > 0
    columns = max(SQUARE_CELLS_PER_SIDE_MIN, round(width / cell_width_px))
    rows = max(SQUARE_CELLS_PER_SIDE_MIN, round(height / cell_width_px))
    return columns, width / columns, rows, height / rows


def square_cells(*, width: int, height: int, cell_width_px: float) -> CellGeometry:
    """Tile the box [0, width] × [0, height] (300 dpi px) with squares about `cell_width_px` wide.

    Cells are numbered row by row from the top left, as a grid puzzle reads.
    """
    columns, cell_w, rows, cell_h = square_layout(width=width, height=height, cell_width_px=cell_width_px)
    # Edges from the integer grid lines times the pitch, the last one exactly the box's side.
    xs = np.append(np.arange(columns) * cell_w, float(width))
    ys = np.append(np.arange(rows) * cell_h, float(height))
    cells: list[Polygon] = []
    for row in range(rows):
        for column in range(columns):
            x0, x1, y0, y1 = xs[column], xs[column + 1], ys[row], ys[row + 1]
            # Clockwise on the page (y grows downwards), as the other tilings.
            cells.append(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64))
    return geometry_from_pieces(cells, np.arange(len(cells), dtype=np.int32), tuple(cells))
