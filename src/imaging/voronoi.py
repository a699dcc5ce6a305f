"""Voronoi cells that are smaller where the picture has detail, and well shaped everywhere.

1. Detail: the local gradient energy of the photo's lightness, smoothed over about a cell, sets a
   target cell width between `WIDTH_MIN_FACTOR` and `WIDTH_MAX_FACTOR` times the density's width.
2. Sites: drawn (seeded) with a probability inverse to the target cell area, then moved by a few
   rounds of density-weighted Lloyd relaxation on a coarse grid, which spaces them like blue noise
   and grades cell sizes smoothly (a centroidal Voronoi tessellation has cell area ∝ density^-½,
   so the density is width^-4).
3. Cells: `scipy.spatial.Voronoi` of the sites and their mirror images in the four box edges, so
   every site's cell is bounded and clipped exactly at the box.
4. Repair: the site of a cell too small for its number, or smaller than a quarter of the largest
   cell, is removed and the sites relaxed again.
"""

from __future__ import annotations

import math
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.spatial import Voronoi, cKDTree

from mosaic.imaging.artwork import px_from_mm
from mosaic.imaging.cells import (
    NUMBER_PT_MIN,
    CellGeometry,
    Polygon,
    geometry_from_pieces,
    polygon_area,
)
from mosaic.imaging.color import lab_from_rgb
from mosaic.imaging.decode import resize_rgb

WIDTH_MIN_FACTOR: Final = 1.0
WIDTH_MAX_FACTOR: Final = 1.5
CELL_WIDTH_FLOOR_MM: Final = 4.5  # no Voronoi cell is planned narrower than the expert hexagon
AREA_RATIO_MAX: Final = 4.0  # largest / smallest cell
GRID_STEP_PX: Final = 8  # the relaxation grid: 37.5 dpi, 30+ samples in the smallest cell
DETAIL_STEP_PX: Final = 4  # the detail measure: 75 dpi
DETAIL_SMOOTHING_CELLS: Final = 1.5  # the detail measure is blurred over about a cell
DETAIL_PERCENTILE: Final = 90.0  # this much detail or more asks for the smallest cells
DETAIL_FLOOR_L_PER_MM: Final = 4.0  # a lightness slope below this is flat, whatever the photo
LLOYD_ROUNDS: Final = 10
R2_COLUMN: Final = 0.7548776662466927  # Roberts' R2 sequence: 1/g and 1/g² for g³ = g + 1
R2_ROW: Final = 0.5698402909980532
REPAIR_ROUNDS_MAX: Final = 6
REPAIR_LLOYD_ROUNDS: Final = 2

assert (WIDTH_MAX_FACTOR / WIDTH_MIN_FACTOR) ** 2 < 0.9 * AREA_RATIO_MAX


def _grid(width: int, height: int) -> tuple[NDArray[np.float64], tuple[int, int]]:
    """Centres (G, 2) of the relaxation grid over the box, and its (rows, columns)."""
    columns, rows = math.ceil(width / GRID_STEP_PX), math.ceil(height / GRID_STEP_PX)
    xs = (np.arange(columns) + 0.5) * (width / columns)
    ys = (np.arange(rows) + 0.5) * (height / rows)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1), (rows, columns)


def _detail(
    photo: NDArray[np.uint8], shape: tuple[int, int], *, width: int, height: int, cell_width_px: float
) -> NDArray[np.float64]:
    """(rows, columns) detail in 0..1 on the grid: smoothed lightness gradient, normalised."""
    small_w, small_h = math.ceil(width / DETAIL_STEP_PX), math.ceil(height / DETAIL_STEP_PX)
    lightness = lab_from_rgb(resize_rgb(photo, width=small_w, height=small_h))[..., 0]
    gx = cv2.Sobel(lightness, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(lightness, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    sigma = DETAIL_SMOOTHING_CELLS * cell_width_px / DETAIL_STEP_PX
    energy = cv2.GaussianBlur(np.hypot(gx, gy), (0, 0), sigmaX=sigma, sigmaY=sigma)
    energy = cv2.resize(energy, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    floor = DETAIL_FLOOR_L_PER_MM * DETAIL_STEP_PX / px_from_mm(1.0)
    scale = max(float(np.percentile(energy, DETAIL_PERCENTILE)), floor)
    return np.asarray(np.clip(energy.astype(np.float64) / scale, 0.0, 1.0), dtype=np.float64)


def _lloyd(
    sites: NDArray[np.float64],
    grid: NDArray[np.float64],
    weight: NDArray[np.float64],
    rounds: int,
) -> NDArray[np.float64]:
    """Move each site to the weighted centroid of its grid points; drop sites that own none."""
    for _ in range(rounds):
        _, nearest = cKDTree(sites).query(grid)
        mass = np.bincount(nearest, weights=weight, minlength=len(sites))
        cx = np.bincount(nearest, weights=weight * grid[:, 0], minlength=len(sites))
        cy = np.bincount(nearest, weights=weight * grid[:, 1], minlength=len(sites))
        owned = mass > 0
        sites = np.stack([cx[owned] / mass[owned], cy[owned] / mass[owned]], axis=1)
    return np.asarray(sites, dtype=np.float64)


def _initial_sites(
    target_px: NDArray[np.float64],
    shape: tuple[int, int],
    *,
    width: int,
    height: int,
    width_min: float,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Sites thinned from a hexagonal lattice `width_min` apart (seeded origin).

    A lattice point is kept where an R2 low-discrepancy dither value (Roberts 2018) is below
    (width_min / target width)²: the whole lattice where detail asks for the smallest cells, an
    evenly spread share of it elsewhere, and as many sites as the target areas ask for.
    """
    rows, columns = shape
    pitch_y = width_min * math.sqrt(3.0) / 2.0
    origin = rng.random(3)
    lattice_rows = np.arange(math.ceil(height / pitch_y) + 1)
    lattice_columns = np.arange(math.ceil(width / width_min) + 1)
    jj, ii = np.meshgrid(lattice_columns, lattice_rows)
    x = (origin[0] + jj + 0.5 * (ii % 2)) * width_min
    y = (origin[1] + ii) * pitch_y
    inside = (x < width) & (y < height)
    x, y, ii, jj = x[inside], y[inside], ii[inside], jj[inside]
    grid_r = np.minimum((y * rows / height).astype(np.int64), rows - 1)
    grid_c = np.minimum((x * columns / width).astype(np.int64), columns - 1)
    keep_share = (width_min / target_px.reshape(shape)[grid_r, grid_c]) ** 2
    dither = (origin[2] + ii * R2_ROW + jj * R2_COLUMN) % 1.0
    kept = dither < keep_share
    return np.ascontiguousarray(np.stack([x[kept], y[kept]], axis=1), dtype=np.float64)


def voronoi_polygons(sites: NDArray[np.float64], *, width: int, height: int) -> list[Polygon]:
    """The Voronoi cell of each site (N, 2) inside the box [0, width] × [0, height], clockwise."""
    x, y = sites[:, 0], sites[:, 1]
    mirrored = np.concatenate(
        [
            sites,
            np.stack([-x, y], axis=1),
            np.stack([2.0 * width - x, y], axis=1),
            np.stack([x, -y], axis=1),
            np.stack([x, 2.0 * height - y], axis=1),
        ]
    )
    diagram = Voronoi(mirrored)
    limits = np.array([width, height], dtype=np.float64)
    polygons = []
    for index in range(len(sites)):
        region = diagram.regions[diagram.point_region[index]]
        assert -1 not in region and len(region) >= 3
        vertices = np.clip(diagram.vertices[region], 0.0, limits)
        angle = np.arctan2(vertices[:, 1] - y[index], vertices[:, 0] - x[index])
        polygons.append(np.ascontiguousarray(vertices[np.argsort(angle)]))
    return polygons


def voronoi_cells(
    photo: NDArray[np.uint8],
    *,
    width: int,
    height: int,
    cell_width_px: float,
    number_target_pt: float,
    seed: int,
) -> CellGeometry:
    """Voronoi cells tiling the box [0, width] × [0, height] (300 dpi px), denser where `photo`
    (H, W, 3) uint8, filling the box, has detail. Deterministic for a given `seed`."""
    del number_target_pt  # the cells are planned to hold it; only the minimum is enforced
    grid, shape = _grid(width, height)
    detail = _detail(photo, shape, width=width, height=height, cell_width_px=cell_width_px)
    floor_px = px_from_mm(CELL_WIDTH_FLOOR_MM)
    width_min = max(WIDTH_MIN_FACTOR * cell_width_px, floor_px)
    width_max = max(WIDTH_MAX_FACTOR * cell_width_px, width_min)
    target = (width_max - (width_max - width_min) * detail).ravel()
    weight = (width_min / target) ** 4
    rng = np.random.default_rng(seed)
    sites = _initial_sites(target, shape, width=width, height=height, width_min=width_min, rng=rng)
    sites = _lloyd(sites, grid, weight, LLOYD_ROUNDS)
    for _ in range(REPAIR_ROUNDS_MAX):
        polygons = voronoi_polygons(sites, width=width, height=height)
        geometry = geometry_from_pieces(polygons, np.arange(len(polygons), dtype=np.int32), tuple(polygons))
        areas = np.array([polygon_area(p) for p in polygons])
        bad = (geometry.number_size_max_pt < NUMBER_PT_MIN) | (areas * AREA_RATIO_MAX < areas.max())
        if not bad.any():
            return geometry
        sites = _lloyd(sites[~bad], grid, weight, REPAIR_LLOYD_ROUNDS)
    raise AssertionError("Voronoi cells still too small after repair")
