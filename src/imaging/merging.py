"""Merging regions at the least cost in color fidelity, until every one can hold its number.

Each region carries a cost vector: for every palette color k, the summed distance from its photo
pixels to color k (ΔE76, the Euclidean distance in CIELAB, or CIEDE2000 through `Ciede2000Costs`,
the measure a page's fidelity is judged by). Cost vectors add under merging, so
the color that serves a merged region best is the argmin of the sum, and the fidelity a merge
loses is exactly

    cost(a, b) = min_k (C_a + C_b)[k] - min_k C_a[k] - min_k C_b[k]      (≥ 0, 0 for one color).

A region too small for its number joins the neighbour with the lowest cost, cheapest per pixel
first. This keeps what the picture has (a thin dark stroke between two light areas goes to the
light area it costs least to lose it to) where the earlier rule, "closest mean color, all at
once", chained merges across whole areas. CIEDE2000 per pixel is a hundred times dearer than
ΔE76, so `Ciede2000Costs` computes it once per distinct color of the image and palette color.
"""

from __future__ import annotations

import heapq
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from mosaic.imaging.color import delta_e_2000
from mosaic.imaging.regions import (
    adjacency,
    border_mask,
    fits_mask,
    holds_box,
    regions_fitting,
    relabelled,
)

SPECK_ROUNDS_MAX: Final = 4  # vectorised rounds of speck removal before the one-by-one merge
COST_COLOR_STEP: Final = 1.0  # CIELAB units: pixels' colors are rounded to this grid, far under a JND


class Ciede2000Costs:
    """Region cost vectors in CIEDE2000 for one image, whatever the palette.

    The image's colors are rounded to a `COST_COLOR_STEP` grid in CIELAB (at most 0.87 ΔE76 off,
    and summed over a region the roundings cancel) and each distinct one is compared with a
    palette color once: a work image of 0.5 MP has some tens of thousands. Each palette color's
    distances are kept, so a refit that moves a few colors pays for those only.
    """

    def __init__(self, image_lab: NDArray[np.float32]) -> None:
        flat = np.asarray(image_lab, dtype=np.float32).reshape(-1, 3)
        grid = np.rint(flat / np.float32(COST_COLOR_STEP)).astype(np.int32)
        cell = grid - grid.min(axis=0, initial=0)
        span = int(cell.max(initial=0)) + 1
        key = (cell[:, 0].astype(np.int64) * span + cell[:, 1]) * span + cell[:, 2]
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        self._colors = grid[first].astype(np.float32) * np.float32(COST_COLOR_STEP)
        self._inverse = inverse.reshape(-1).astype(np.int32)
        self._rows: dict[bytes, NDArray[np.float32]] = {}

    def pixel_distances(
        self, palette_lab: NDArray[np.float32], pixel_color: NDArray[np.int32]
    ) -> NDArray[np.float32]:
        """(N,) float32: each pixel's CIEDE2000 to its palette color `pixel_color` (N,) int32."""
        table = self._table(palette_lab)
        out: NDArray[np.float32] = table[pixel_color.reshape(-1), self._inverse]
        return out

    def __call__(
        self, labels: NDArray[np.int32], palette_lab: NDArray[np.float32], count: int
    ) -> NDArray[np.float64]:
        """(R, K) float64 as `region_costs`, in CIEDE2000: `labels` (H, W) over the image's pixels."""
        table = self._table(palette_lab)
        flat_labels = labels.reshape(-1)
        out = np.empty((count, len(table)), dtype=np.float64)
        for k, row in enumerate(table):
            out[:, k] = np.bincount(flat_labels, weights=row[self._inverse], minlength=count)
        return out

    def _table(self, palette_lab: NDArray[np.float32]) -> NDArray[np.float32]:
        rows = []
        for color in np.asarray(palette_lab, dtype=np.float32).reshape(-1, 3):
            key = color.tobytes()
            if key not in self._rows:
                self._rows[key] = delta_e_2000(self._colors, color[None, :], single=True)
            rows.append(self._rows[key])
        return np.stack(rows)


def region_costs(
    labels: NDArray[np.int32], image_lab: NDArray[np.float32], palette_lab: NDArray[np.float32], count: int
) -> NDArray[np.float64]:
    """(R, K) float64: for each region and palette color, the summed ΔE76 of its pixels to it.

    Parameters
    ----------
    labels
        (H, W) int32 region map with `count` regions; not modified.
    image_lab
        (H, W, 3) float32 CIELAB of the photo at the map's resolution; not modified.
    palette_lab
        (K, 3) float32 CIELAB palette.
    """
    flat_labels = labels.reshape(-1)
    channels = [np.ascontiguousarray(image_lab[..., c], dtype=np.float32).reshape(-1) for c in range(3)]
    # Channel by channel, in place: (K, N) float32 with no (N, K, 3) temporary and no thin matmul.
    distance = np.empty((len(palette_lab), flat_labels.shape[0]), dtype=np.float32)
    scratch = np.empty(flat_labels.shape[0], dtype=np.float32)
    for k, color in enumerate(np.asarray(palette_lab, dtype=np.float32)):
        row = distance[k]
        np.subtract(channels[0], color[0], out=row)
        np.multiply(row, row, out=row)
        for c in (1, 2):
            np.subtract(channels[c], color[c], out=scratch)
            np.multiply(scratch, scratch, out=scratch)
            np.add(row, scratch, out=row)
    np.sqrt(distance, out=distance)
    # One weighted bincount per color: float64 sums in pixel order, as a sparse membership product
    # would give, without its (N, K) float64 copy (on a poster's work image, a fresh 100 MB a call).
    out = np.empty((count, len(palette_lab)), dtype=np.float64)
    for k in range(len(palette_lab)):
        out[:, k] = np.bincount(flat_labels, weights=distance[k], minlength=count)
    return out


def merge_specks(
    labels: NDArray[np.int32], region_cost: NDArray[np.float64], *, speck_px: int, same_color: bool = False
) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
    """Join every region under `speck_px` pixels to its cheapest neighbour that is no speck (with
    `same_color`, only to one of its own color: a crumb of a cut area rejoins that area for free).

    Vectorised and chain-free (a speck never joins a speck), for at most `SPECK_ROUNDS_MAX` rounds;
    specks surrounded by specks are left to `merge_cheapest_first`. A quantised photo has
    thousands of specks, too many to merge one by one in Python.

    Returns the new (H, W) int32 labels and (R', K) cost vectors.
    """
    for _ in range(SPECK_ROUNDS_MAX):
        count = len(region_cost)
        speck = np.bincount(labels.reshape(-1), minlength=count) < speck_px
        pairs = adjacency(labels, count)
        chosen = speck[pairs.first] & ~speck[pairs.second]
        if same_color:
            color = np.argmin(region_cost, axis=1)
            chosen &= color[pairs.first] == color[pairs.second]
        if not bool(chosen.any()):
            break
        a, b = pairs.first[chosen], pairs.second[chosen]
        best = region_cost.min(axis=1)
        cost = (region_cost[a] + region_cost[b]).min(axis=1) - best[a] - best[b]
        order = np.lexsort((b, cost, a))
        a_sorted, b_sorted = a[order], b[order]
        first = np.ones(len(a_sorted), dtype=bool)
        first[1:] = a_sorted[1:] != a_sorted[:-1]
        root = np.arange(count, dtype=np.int64)
        root[a_sorted[first]] = b_sorted[first]
        labels, kept, new_of_old = relabelled(labels, root)
        region_cost = _summed(region_cost, new_of_old, len(kept))
    return labels, region_cost


def merge_cheapest_first(
    labels: NDArray[np.int32],
    region_cost: NDArray[np.float64],
    *,
    half_width_px: int,
    half_height_px: int,
    area_min_px: float | NDArray[np.float32] = 0.0,
) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
    """Merge regions, cheapest loss per pixel first, until each holds its number box and is big enough.

    A region that cannot hold a (2·hw+1) × (2·hh+1) box clear of its borders, or is smaller than
    its minimum area, joins the neighbour whose merge costs the least fidelity (module
    docstring), the region losing the least per pixel going first. Holding a box never stops
    under merging (the box and its ring stay inside the union), so only a union of two regions
    that could not is re-checked, on its bounding box, once it is big enough. Costs are
    re-evaluated lazily when a region comes off the heap.

    Parameters
    ----------
    labels
        (H, W) int32 region map, every region 4-connected; not modified.
    region_cost
        (R, K) float64 cost vectors (`region_costs`); not modified.
    area_min_px
        The smallest area a region may keep, in pixels: one figure, or an (H, W) map of it (say
        lower near a face), in which case a region's minimum is the map's mean over its pixels.

    Returns
    -------
    tuple
        New (H, W) int32 labels and (R', K) cost vectors; region r's color is `argmin` of row r.
    """
    labels = labels.copy()
    region_cost = region_cost.copy()
    count = len(region_cost)
    holds = regions_fitting(
        labels,
        fits_mask(border_mask(labels), half_width_px=half_width_px, half_height_px=half_height_px),
        count,
    )
    pairs = adjacency(labels, count)
    neighbours: list[set[int]] = [set() for _ in range(count)]
    for a, b in zip(pairs.first.tolist(), pairs.second.tolist(), strict=True):
        neighbours[a].add(b)
    bounds = [
        [found[0].start, found[0].stop, found[1].start, found[1].stop]
        for found in ndimage.find_objects(labels + 1, max_label=count)
    ]
    best = region_cost.min(axis=1)
    area = np.bincount(labels.reshape(-1), minlength=count).astype(np.int64)
    # Summed over a region's pixels the minimum adds up under merging, like the costs: the
    # region is big enough when area ≥ need / area, the map's mean over it.
    if isinstance(area_min_px, np.ndarray):
        assert area_min_px.shape == labels.shape
        flat_need = area_min_px.reshape(-1).astype(np.float64)
        need = np.bincount(labels.reshape(-1), weights=flat_need, minlength=count).astype(np.float64)
    else:
        need = np.asarray(area, dtype=np.float64) * float(area_min_px)
    fits = holds & (area.astype(np.float64) ** 2 >= need)
    alive = np.ones(count, dtype=bool)

    known: dict[int, tuple[float, int]] = {}  # `cheapest(a)` while a and its neighbours stay as they were

    def cheapest(a: int) -> tuple[float, int]:
        if a in known:
            return known[a]
        around = np.fromiter(neighbours[a], dtype=np.int64, count=len(neighbours[a]))
        loss = (region_cost[a][None, :] + region_cost[around]).min(axis=1) - best[a] - best[around]
        # Among equally cheap neighbours (a region of one color cut in cells: every merge within
        # it is free) the smallest, then the first: two small cells pair up instead of all
        # joining one big one.
        tied = np.flatnonzero(loss == loss.min())
        if len(tied) > 1:
            tied = tied[np.lexsort((around[tied], area[around[tied]]))]
        i = int(tied[0])
        known[a] = float(loss[i]) / float(area[a]), int(around[i])
        return known[a]

    heap = [(cheapest(a)[0], a) for a in np.flatnonzero(~fits).tolist() if neighbours[a]]
    heapq.heapify(heap)
    while heap:
        key, a = heapq.heappop(heap)
        if not alive[a] or fits[a] or not neighbours[a]:
            continue
        loss, b = cheapest(a)
        if loss > key * (1.0 + 1e-9) + 1e-12:  # got dearer since it was queued
            heapq.heappush(heap, (loss, a))
            continue
        keep, gone = (b, a) if area[b] >= area[a] else (a, b)
        y0, y1, x0, x1 = bounds[gone]
        window = labels[y0:y1, x0:x1]
        window[window == gone] = keep
        k0, k1, k2, k3 = bounds[keep]
        bounds[keep] = [min(k0, y0), max(k1, y1), min(k2, x0), max(k3, x1)]
        region_cost[keep] += region_cost[gone]
        best[keep] = region_cost[keep].min()
        area[keep] += area[gone]
        need[keep] += need[gone]
        alive[gone] = False
        for n in neighbours[gone]:
            if n != keep:
                neighbours[n].discard(gone)
                neighbours[n].add(keep)
                neighbours[keep].add(n)
        neighbours[keep].discard(gone)
        neighbours[gone] = set()
        for n in (keep, *neighbours[keep]):  # every region that has `keep` or had `gone` around
            known.pop(n, None)
        # `holds` is what is known to hold: a region too small yet is not checked until it is
        # big enough (a union holds whenever a part of it did, so checking later is the same).
        holds[keep] = holds[a] or holds[b]
        big_enough = float(area[keep]) ** 2 >= float(need[keep])
        if big_enough and not holds[keep]:
            holds[keep] = holds_box(
                labels, bounds[keep], keep, half_width_px=half_width_px, half_height_px=half_height_px
            )
        fits[keep] = big_enough and holds[keep]
        if not fits[keep] and neighbours[keep]:
            heapq.heappush(heap, (cheapest(keep)[0], keep))
    kept = np.flatnonzero(alive)
    new_of_old = np.full(count, -1, dtype=np.int64)
    new_of_old[kept] = np.arange(len(kept))
    return new_of_old.astype(np.int32)[labels], region_cost[kept]


def _summed(
    region_cost: NDArray[np.float64], new_of_old: NDArray[np.int64], count: int
) -> NDArray[np.float64]:
    """(R', K): the cost vectors of old regions added up into their new regions."""
    columns = range(region_cost.shape[1])
    return np.stack(
        [np.bincount(new_of_old, weights=region_cost[:, k], minlength=count) for k in columns], axis=1
    )

