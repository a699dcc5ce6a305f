"""Shared tools of the mystery mosaics: convex cells, their numbers, their raster and their colors.

A mosaic is a tiling of the placed box by cells, each given as one or more convex *pieces* (a hex
cell cut at the page edge and merged with its neighbour has two). Here coordinates are continuous
with pixel (row i, column j) covering [j, j+1] × [i, i+1], so the box is [0, W] × [0, H];
`Artwork.polygons` and `anchors_xy` put pixel centres at integers instead (`artwork_xy_from_cell_xy`).

Numbers are two digits of the renderer's typeface (Pillow's bundled Aileron: two digits are 1.16 em
wide, digits 0.74 em tall) plus a clearance from the cell's outline on every side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.spatial.distance import cdist

from mosaic.imaging.artwork import px_from_mm, px_from_pt
from mosaic.imaging.color import lab_from_rgb, palette_kmeans, rgb_u8_from_lab
from mosaic.imaging.coloruse import every_color_used, used_first
from mosaic.imaging.decode import resize_rgb
from mosaic.imaging.paintpick import paints_lab
from mosaic.imaging.palettes import Paint

NUMBER_PT_MIN: Final = 7.0  # the smallest number we print: legible for anyone
NUMBER_PT_MAX: Final = 12.0
NUMBER_PT_STEP: Final = 0.5
NUMBER_WIDTH_EM: Final = 1.16  # two digits of Aileron, advance width
NUMBER_HEIGHT_EM: Final = 0.74  # digit height of Aileron
NUMBER_CLEARANCE_MM: Final = 0.35  # from the outline's centre: half a 0.75 pt line plus a gap
MOSAIC_LINE_WIDTH_PT: Final = 0.75
MEANS_STEP_PX: Final = 3  # cell colors are averaged on a 100 dpi grid
POLE_GRID: Final = 5  # candidates per side in each round of the pole search
POLE_SHRINK: Final = 0.6  # the search window shrinks by this each round
POLE_ROUNDS: Final = 14  # 0.6 ** 14 ≈ 8e-4: a 60 px cell's pole to 0.05 px

assert px_from_pt(MOSAIC_LINE_WIDTH_PT) / 2 < px_from_mm(NUMBER_CLEARANCE_MM)

Polygon = NDArray[np.float64]


def artwork_xy_from_cell_xy(xy: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shift (..., 2) cell coordinates (pixel centres at +0.5) to `Artwork` ones (centres at 0)."""
    return np.asarray(xy - 0.5, dtype=np.float64)


def number_box_mm(size_pt: float) -> tuple[float, float]:
    """(width, height) in mm of a two-digit number at `size_pt`, clearance on every side included."""
    em_mm = size_pt * 25.4 / 72.0
    pad = 2.0 * NUMBER_CLEARANCE_MM
    return NUMBER_WIDTH_EM * em_mm + pad, NUMBER_HEIGHT_EM * em_mm + pad


def _padded(pieces: list[Polygon]) -> NDArray[np.float64]:
    """(N, E, 2): each polygon's vertices, the last repeated up to the longest one's count.

    The repeats add edges of length zero, which `_half_planes` ignores.
    """
    count_max = max(len(p) for p in pieces)
    out = np.empty((len(pieces), count_max, 2), dtype=np.float64)
    for n, piece in enumerate(pieces):
        assert len(piece) >= 3
        out[n] = piece[np.minimum(np.arange(count_max), len(piece) - 1)]
    return out


def _half_planes(
    vertices: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Inward unit normals (N, E, 2) and offsets (N, E) with n·p - offset ≥ 0 inside each piece."""
    direction = np.roll(vertices, -1, axis=1) - vertices
    length = np.hypot(direction[..., 0], direction[..., 1])
    normal = np.stack([-direction[..., 1], direction[..., 0]], axis=-1)
    normal /= np.maximum(length, 1e-12)[..., None]
    inside = vertices.mean(axis=1, keepdims=True)
    flip = np.einsum("nek,nek->ne", normal, inside - vertices) < 0
    normal[flip] *= -1.0
    offset = np.einsum("nek,nek->ne", normal, vertices)
    offset[length < 1e-9] = -np.inf  # a degenerate edge constrains nothing
    return normal, offset


def _best_point(
    vertices: NDArray[np.float64], *, reach: NDArray[np.float64] | None, clearance: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Maximise min_e (n_e·p - offset_e - clearance) / reach_e over each convex polygon.

    Every term is affine in p, so the minimum is concave and a shrinking grid search around the
    best candidate converges; among equal candidates the one nearest the centre wins.
    """
    normal, offset = _half_planes(vertices)
    scale = np.ones_like(offset) if reach is None else reach
    low, high = vertices.min(axis=1), vertices.max(axis=1)
    centre, half = (low + high) / 2.0, (high - low) / 2.0
    steps = np.linspace(-1.0, 1.0, POLE_GRID)
    grid = np.stack(np.meshgrid(steps, steps), axis=-1).reshape(-1, 2)  # (G, 2)
    tie_break = 1e-9 * np.hypot(grid[:, 0], grid[:, 1])
    rows = np.arange(len(vertices))
    nx, ny = normal[:, None, :, 0] / scale[:, None, :], normal[:, None, :, 1] / scale[:, None, :]
    shift = ((offset + clearance) / scale)[:, None, :]
    for _ in range(POLE_ROUNDS):
        candidates = centre[:, None, :] + grid[None, :, :] * half[:, None, :]  # (N, G, 2)
        room = candidates[..., 0:1] * nx + candidates[..., 1:2] * ny - shift  # (N, G, E)
        score = room.min(axis=2) - tie_break[None, :]
        centre = candidates[rows, np.argmax(score, axis=1)]
        half = half * POLE_SHRINK
    value = ((np.einsum("nk,nek->ne", centre, normal) - offset - clearance) / scale).min(axis=1)
    return centre, value


def number_anchors(pieces: list[Polygon]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Where each convex piece holds the largest two-digit number, and that size.

    The pole of inaccessibility for the number's box (wider than tall) rather than for a circle,
    with `NUMBER_CLEARANCE_MM` kept from every edge.

    Parameters
    ----------
    pieces
        N convex polygons (K, 2) float64 in 300 dpi pixels.

    Returns
    -------
    tuple of NDArray[np.float64]
        Anchors (N, 2) (x, y) and the largest number size (N,) in pt there (≤ 0: nothing fits).
    """
    vertices = _padded(pieces)
    normal, _ = _half_planes(vertices)
    half_w = NUMBER_WIDTH_EM / 2.0 * px_from_pt(1.0)
    half_h = NUMBER_HEIGHT_EM / 2.0 * px_from_pt(1.0)
    reach = np.abs(normal[..., 0]) * half_w + np.abs(normal[..., 1]) * half_h
    return _best_point(vertices, reach=np.maximum(reach, 1e-12), clearance=px_from_mm(NUMBER_CLEARANCE_MM))


def choose_number_size_pt(sizes_max_pt: NDArray[np.float64], *, target_pt: float) -> float:
    """The size every cell holds, at most `target_pt`, in `NUMBER_PT_STEP` steps; ≥ the minimum."""
    size = min(target_pt, NUMBER_PT_MAX, float(sizes_max_pt.min()))
    size = np.floor(size / NUMBER_PT_STEP) * NUMBER_PT_STEP
    assert size >= NUMBER_PT_MIN, f"a cell cannot hold a {NUMBER_PT_MIN} pt number ({size})"
    return float(size)


def rasterize(
    pieces: list[Polygon], piece_cell: NDArray[np.int32], *, height: int, width: int
) -> NDArray[np.int32]:
    """Labels (height, width) int32: the cell index of every pixel, from convex pieces tiling it.

    Each piece is filled with its boundary included, so a pixel on a shared border goes to the
    later piece and none is left out; the pieces must cover [0, width] × [0, height].
    """
    shift = 8
    scale = float(1 << shift)
    labels = np.full((height, width), -1, dtype=np.int32)
    for piece, cell in zip(pieces, piece_cell.tolist(), strict=True):
        points = np.rint((piece - 0.5) * scale).astype(np.int32)
        cv2.fillConvexPoly(labels, points, int(cell), lineType=cv2.LINE_8, shift=shift)
    assert int(labels.min()) >= 0, "the cells leave a pixel uncovered"
    return labels


def polygon_area(polygon: Polygon) -> float:
    """Area of a simple polygon (K, 2) (shoelace), in its units squared."""
    x, y = polygon[:, 0], polygon[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def cell_means_lab(
    photo: NDArray[np.uint8], labels: NDArray[np.int32], *, cell_count: int
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Mean CIELAB color (N, 3) float32 and sampled area (N,) float32 of every cell.

    The photo (H0, W0, 3) uint8 is resampled onto a `MEANS_STEP_PX` grid of `labels` (the photo
    fills the box exactly), so a 12 MP photo costs a 1 MP average.
    """
    step = MEANS_STEP_PX
    sampled = labels[step // 2 :: step, step // 2 :: step]
    small = resize_rgb(photo, width=sampled.shape[1], height=sampled.shape[0])
    lab = lab_from_rgb(small).reshape(-1, 3)
    flat = sampled.ravel()
    counts = np.bincount(flat, minlength=cell_count).astype(np.float64)
    assert counts.shape == (cell_count,) and float(counts.min()) > 0, "a cell has no samples"
    means = np.stack([np.bincount(flat, weights=lab[:, c], minlength=cell_count) for c in range(3)], axis=1)
    return (means / counts[:, None]).astype(np.float32), counts.astype(np.float32)


def cell_palette(
    means_lab: NDArray[np.float32],
    areas: NDArray[np.float32],
    *,
    colors: int,
    seed: int,
    paints: tuple[Paint, ...] | None = None,
) -> tuple[NDArray[np.int32], NDArray[np.uint8]]:
    """Palette index (N,) int32 of each cell and the palette (colors, 3) uint8 sRGB.

    The palette is an area-weighted k-means over the cell means, so a big background counts for
    its size and not for its number of cells. Each cell takes its nearest color, except that a
    color no cell would take is given to the cells that lose least by taking it: every legend
    entry has cells to color unless the cells hold fewer distinct colors than `colors`. Cells of
    the same mean always share a color. Colors in use are numbered first, dark to light.

    With `paints` (the paints chosen from a set, in number order), the palette is exactly those
    paints, in that order.
    """
    if paints is None:
        palette_lab = palette_kmeans(means_lab, colors=colors, seed=seed, weights=areas)
    else:
        palette_lab = paints_lab(paints)
    assert palette_lab.shape == (colors, 3)
    distinct, cell_group = np.unique(means_lab, axis=0, return_inverse=True)
    cell_group = cell_group.reshape(-1)
    group_area = np.bincount(cell_group, weights=areas, minlength=len(distinct))
    # Summed ΔE76 over a group's area if painted in each color: the cost cbn's regions use too.
    group_cost = group_area[:, None] * cdist(distinct.astype(np.float64), palette_lab.astype(np.float64))
    region_color = every_color_used(group_cost)[cell_group]
    if paints is not None:
        return region_color.astype(np.int32), np.array([p.rgb for p in paints], dtype=np.uint8)
    palette_lab, region_color = used_first(palette_lab, region_color)
    return region_color, rgb_u8_from_lab(palette_lab)


@dataclass(frozen=True, slots=True)
class CellGeometry:
    """A tiling of the box [0, width] × [0, height] by cells made of convex pieces.

    Attributes
    ----------
    pieces
        Convex polygons (K, 2) float64, clockwise on the page, together tiling the box.
    piece_cell
        (P,) int32: the cell of each piece.
    polygons
        One outline (K, 2) float64 per cell: the union of its pieces.
    anchors_xy
        (N, 2) float64: each cell's number centre, the pole of its roomiest piece.
    number_size_max_pt
        (N,) float64: the largest number each cell holds at its anchor.
    """

    pieces: list[Polygon]
    piece_cell: NDArray[np.int32]
    polygons: tuple[Polygon, ...]
    anchors_xy: NDArray[np.float64]
    number_size_max_pt: NDArray[np.float64]

    @property
    def cell_count(self) -> int:
        return len(self.polygons)


def geometry_from_pieces(
    pieces: list[Polygon], piece_cell: NDArray[np.int32], polygons: tuple[Polygon, ...]
) -> CellGeometry:
    """Anchor every cell where its roomiest piece holds the largest number."""
    anchors, sizes = number_anchors(pieces)
    cell_count = len(polygons)
    assert piece_cell.shape == (len(pieces),) and int(piece_cell.max()) == cell_count - 1
    order = np.lexsort((-sizes, piece_cell))  # by cell, roomiest piece first
    first = order[np.searchsorted(piece_cell[order], np.arange(cell_count))]
    return CellGeometry(pieces, piece_cell, polygons, anchors[first], sizes[first])
