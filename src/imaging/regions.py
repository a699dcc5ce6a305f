"""Label maps: connected regions, their borders and neighbours, and where a number fits.

A label map is an (H, W) int32 array of region indices 0..R-1 in which every region is one
4-connected piece. Its borders are shared: a pixel with a 4-neighbour of another region is a
border pixel, and so is every pixel on the frame, because the outline of the art is a line too.
These functions work at any resolution; the caller passes sizes in pixels of that resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

REGIONS_MAX: Final = 1 << 24  # pair keys a·R + b must fit in int64 comfortably
MERGE_ROUNDS_MAX: Final = 64  # each round merges every region that is too small at once
_CROSS: Final = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=np.uint8)
THIN_STRIP_ROWS: Final = 128  # rows at a time: the masks of a strip stay in cache
THIN_TILE_PX: Final = 64  # thin pixels take their values tile by tile …
THIN_MARGIN_PX: Final = 16  # … from a window this much larger on every side …
THIN_REACH_PX: Final = 6.0  # … if none is farther from a kept pixel than this (well inside the margin)
GATHER_BAND_PX: Final = 1 << 19  # pixels a band when a map is relabelled in place: they stay in cache


@dataclass(frozen=True, slots=True)
class Adjacency:
    """Each pair of 4-adjacent regions, listed both ways: `first[i]` touches `second[i]`.

    `border_px[i]` counts the 4-adjacent pixel pairs they share (the length of their border).
    """

    first: NDArray[np.int64]
    second: NDArray[np.int64]
    border_px: NDArray[np.int64]


def components(index_map: NDArray[np.int32]) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """Split a map of values 0..N-1 into 4-connected regions of equal value.

    Parameters
    ----------
    index_map
        (H, W) int32, values 0..N-1; not modified.

    Returns
    -------
    labels
        (H, W) int32 region index 0..R-1, numbered value by value, then in scan order.
    region_value
        (R,) int32: the value of each region.
    """
    assert index_map.ndim == 2 and int(index_map.min()) >= 0
    labels = np.zeros(index_map.shape, dtype=np.int32)
    values: list[NDArray[np.int32]] = []
    offset = 0
    for value in np.unique(index_map):
        mask = (index_map == value).astype(np.uint8)
        count, pieces = cv2.connectedComponents(mask, connectivity=4, ltype=cv2.CV_32S)
        inside = mask.astype(bool)
        labels[inside] = pieces[inside] - 1 + offset
        values.append(np.full(count - 1, value, dtype=np.int32))
        offset += count - 1
    assert offset <= REGIONS_MAX
    return labels, np.concatenate(values).astype(np.int32)


def without_thin_parts(
    index_map: NDArray[np.int32], *, square_px: int, in_place: bool = False
) -> NDArray[np.int32]:
    """Morphological opening of a partition: parts narrower than `square_px` join their neighbours.

    A pixel is kept if some `square_px` × `square_px` square of one value covers it; every other
    pixel takes the value of the nearest kept pixel. So no region keeps a sliver or a tail
    thinner than the square (at print resolution, the line would swallow it).

    Parameters
    ----------
    index_map
        (H, W) int32 values (palette indices or region labels); not modified unless `in_place`.
    square_px
        Side of the square, ≥ 2.
    in_place
        Open `index_map` itself (a print-size map is 200 MB): only thin pixels are written, and
        they take their values from kept ones, which are never written.

    Returns
    -------
    NDArray[np.int32]
        (H, W) int32, the opened map (unchanged where nothing is thin).
    """
    assert square_px >= 2
    height, width = index_map.shape
    out = index_map if in_place else index_map.copy()
    if height < square_px or width < square_px:
        return out
    thin = np.zeros(index_map.shape, dtype=np.uint8)  # calloc: only the pages of thin pixels are touched
    rows, cols = _thin_pixels(index_map, square_px=square_px, into=thin)
    if len(rows) == 0 or len(rows) == thin.size:
        return out
    # Each thin pixel takes the value of its nearest kept one: OpenCV labels every kept pixel in
    # raster order (1, 2, …) and spreads the labels over the rest (the 5×5 metric is within 2 % of
    # Euclidean). Thin pixels are a few in ten thousand and lie next to kept ones, so the transform
    # runs on a window around each tile holding some; a window whose thin pixels are farther from
    # a kept one than its margin allows is done over the whole map instead.
    tiles = np.unique((rows // THIN_TILE_PX) * (-(-width // THIN_TILE_PX)) + cols // THIN_TILE_PX)
    far: list[tuple[int, int]] = []
    for tile in tiles.tolist():
        ty, tx = divmod(tile, -(-width // THIN_TILE_PX))
        y0, x0 = ty * THIN_TILE_PX, tx * THIN_TILE_PX
        y1, x1 = min(y0 + THIN_TILE_PX, height), min(x0 + THIN_TILE_PX, width)
        wy0, wx0 = max(y0 - THIN_MARGIN_PX, 0), max(x0 - THIN_MARGIN_PX, 0)
        wy1, wx1 = min(y1 + THIN_MARGIN_PX, height), min(x1 + THIN_MARGIN_PX, width)
        window = thin[wy0:wy1, wx0:wx1]
        values = index_map[wy0:wy1, wx0:wx1]
        distance, nearest = cv2.distanceTransformWithLabels(
            window, cv2.DIST_L2, cv2.DIST_MASK_5, labelType=cv2.DIST_LABEL_PIXEL
        )
        inner = (slice(y0 - wy0, y1 - wy0), slice(x0 - wx0, x1 - wx0))
        here = window[inner].view(bool)
        if float(np.asarray(distance)[inner][here].max()) > THIN_REACH_PX:
            far.append((y0, x0))
            continue
        kept_values = np.concatenate([np.zeros(1, np.int32), values[window == 0]])  # label 0 is unused
        np.copyto(out[y0:y1, x0:x1], kept_values[np.asarray(nearest)[inner]], where=here)
    if far:
        nearest_all = cv2.distanceTransformWithLabels(
            thin, cv2.DIST_L2, cv2.DIST_MASK_5, labelType=cv2.DIST_LABEL_PIXEL
        )[1]
        kept_all = np.concatenate([np.zeros(1, np.int32), index_map[thin == 0]])
        for y0, x0 in far:
            tile_slice = (slice(y0, y0 + THIN_TILE_PX), slice(x0, x0 + THIN_TILE_PX))
            np.copyto(out[tile_slice], kept_all[nearest_all[tile_slice]], where=thin[tile_slice].view(bool))
    return out


def _thin_pixels(
    index_map: NDArray[np.int32], *, square_px: int, into: NDArray[np.uint8]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Rows and columns (raster order) of the pixels no uniform `square_px` square covers; sets
    them to 1 in `into`. Strip by strip: whether a pixel is covered depends on the pixels within
    `square_px - 1` of it only."""
    height, width = index_map.shape
    reach = square_px - 1
    found_rows: list[NDArray[np.int64]] = []
    found_cols: list[NDArray[np.int64]] = []
    corner, last = (0, 0), (square_px - 1, square_px - 1)
    across_kernel = np.ones((square_px, square_px - 1), np.uint8)
    down_kernel = np.ones((square_px - 1, square_px), np.uint8)
    cover_kernel = np.ones((square_px, square_px), np.uint8)
    for top in range(0, height, THIN_STRIP_ROWS):
        bottom = min(top + THIN_STRIP_ROWS, height)
        s0, s1 = max(top - reach, 0), min(bottom + reach, height)
        strip = index_map[s0:s1]
        across = np.zeros(strip.shape, dtype=np.uint8)
        down = np.zeros(strip.shape, dtype=np.uint8)
        np.equal(strip[:, :-1], strip[:, 1:], out=across[:, :-1].view(bool))
        np.equal(strip[:-1, :], strip[1:, :], out=down[:-1, :].view(bool))
        # Erosion anchored top-left: is the square whose top-left corner is here all one value?
        uniform = np.asarray(cv2.erode(across, across_kernel, anchor=corner), dtype=np.uint8)
        uniform &= np.asarray(cv2.erode(down, down_kernel, anchor=corner), dtype=np.uint8)
        uniform[max(height - square_px + 1 - s0, 0) :, :] = 0  # no square starts this near the end
        uniform[:, width - square_px + 1 :] = 0
        covered = np.asarray(cv2.dilate(uniform, cover_kernel, anchor=last), dtype=np.uint8)
        strip_rows, strip_cols = np.nonzero(covered[top - s0 : bottom - s0] == 0)
        if len(strip_rows):
            strip_rows += top
            found_rows.append(strip_rows.astype(np.int64))
            found_cols.append(strip_cols.astype(np.int64))
    if not found_rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows, cols = np.concatenate(found_rows), np.concatenate(found_cols)
    into[rows, cols] = 1
    return rows, cols


def border_mask(labels: NDArray[np.int32]) -> NDArray[np.bool_]:
    """(H, W) bool: pixels with a 4-neighbour in another region, and the frame of the map."""
    border = np.zeros(labels.shape, dtype=bool)
    horizontal = labels[:, 1:] != labels[:, :-1]
    vertical = labels[1:, :] != labels[:-1, :]
    border[:, 1:] |= horizontal
    border[:, :-1] |= horizontal
    border[1:, :] |= vertical
    border[:-1, :] |= vertical
    border[[0, -1], :] = True
    border[:, [0, -1]] = True
    return border


def fits_mask(border: NDArray[np.bool_], *, half_width_px: int, half_height_px: int) -> NDArray[np.bool_]:
    """(H, W) bool: centres of a (2·hw+1) × (2·hh+1) box that touches no border pixel.

    Such a box lies inside one region, clear of every line, so a number drawn in it is legible.
    """
    assert half_width_px >= 0 and half_height_px >= 0
    clear = (~border).astype(np.uint8)
    kernel = np.ones((2 * half_height_px + 1, 2 * half_width_px + 1), dtype=np.uint8)
    eroded = cv2.erode(clear, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return eroded.astype(bool)


def regions_fitting(labels: NDArray[np.int32], fits: NDArray[np.bool_], count: int) -> NDArray[np.bool_]:
    """(R,) bool: which regions contain at least one pixel of `fits`."""
    return np.bincount(labels[fits], minlength=count)[:count] > 0


def region_bounds(labels: NDArray[np.int32], count: int) -> NDArray[np.int64]:
    """(R, 4) int64 `y0, y1, x0, x1` (ends exclusive): each region's bounding box; every region
    must have a pixel."""
    found = ndimage.find_objects(labels, max_label=count - 1)  # labels 1..R-1: no (H, W) `labels + 1`
    bounds = np.zeros((count, 4), dtype=np.int64)
    for index, box in enumerate(found, start=1):
        assert box is not None, f"region {index} is empty"
        bounds[index] = (box[0].start, box[0].stop, box[1].start, box[1].stop)
    rows = np.flatnonzero((labels == 0).any(axis=1))
    cols = np.flatnonzero((labels[rows[0] : rows[-1] + 1] == 0).any(axis=0))
    bounds[0] = (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1)
    return bounds


def clear_inside(
    labels: NDArray[np.int32], bounds: NDArray[np.int64], region: int
) -> tuple[NDArray[np.uint8], int, int]:
    """`region`'s pixels that are no border pixel (as `border_mask`), as (h, w) uint8 over its
    bounds and a pixel more all round (inside the map), with that window's top-left corner."""
    height, width = labels.shape
    y0, y1, x0, x1 = bounds.tolist()
    y0, x0, y1, x1 = max(y0 - 1, 0), max(x0 - 1, 0), min(y1 + 1, height), min(x1 + 1, width)
    inside = np.equal(labels[y0:y1, x0:x1], region).view(np.uint8)
    # Beyond the window (the frame of the map) counts as another region, as in `border_mask`.
    clear = cv2.erode(inside, _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return np.asarray(clear, dtype=np.uint8), y0, x0


def holds_box(
    labels: NDArray[np.int32],
    bounds: NDArray[np.int64] | list[int],
    region: int,
    *,
    half_width_px: int,
    half_height_px: int,
) -> bool:
    """Whether `region` holds the box clear of its borders (as `fits_mask`), checked on its bounds."""
    clear, _, _ = clear_inside(labels, np.asarray(bounds, dtype=np.int64), region)
    return bool(room_inside(clear, half_width_px=half_width_px, half_height_px=half_height_px).any())


def room_inside(clear: NDArray[np.uint8], *, half_width_px: int, half_height_px: int) -> NDArray[np.uint8]:
    """`fits_mask` within one region: 1 at the centres of a box of clear pixels (`clear_inside`)."""
    kernel = np.ones((2 * half_height_px + 1, 2 * half_width_px + 1), dtype=np.uint8)
    fits = cv2.erode(clear, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return np.asarray(fits, dtype=np.uint8)


def region_poles(
    labels: NDArray[np.int32],
    bounds: NDArray[np.int64],
    regions: NDArray[np.int64],
    *,
    half_width_px: int,
    half_height_px: int,
) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    """For `regions`, each checked on its bounds: whether it holds a (2·hw+1) × (2·hh+1) box clear
    of its borders (as `regions_fitting`), and its pole of inaccessibility among the centres of
    such boxes: the one farthest from a border pixel (5×5 chamfer metric), first in scan order.

    A box around a pixel of a region that holds no border pixel lies inside the region, and the
    nearest border pixel to a pixel of it is one of its own (a step of the metric out of a
    region passes one), so its own pixels decide both, as over the whole map.

    Returns
    -------
    tuple
        (n,) bool, and (n, 2) float32 (x, y) of the pole's pixel centre (pixel (row i, column j)
        covers [j, j + 1) × [i, i + 1)); NaN for a region that cannot hold the box.
    """
    holds = np.zeros(len(regions), dtype=bool)
    poles = np.full((len(regions), 2), np.nan, dtype=np.float32)
    for i, region in enumerate(regions.tolist()):
        clear, y0, x0 = clear_inside(labels, bounds[region], region)
        fits = room_inside(clear, half_width_px=half_width_px, half_height_px=half_height_px)
        if not bool(fits.any()):
            continue
        score = np.asarray(cv2.distanceTransform(clear, cv2.DIST_L2, cv2.DIST_MASK_5), dtype=np.float32)
        score[fits == 0] = -1.0
        row, col = np.unravel_index(int(np.argmax(score)), score.shape)
        holds[i] = True
        poles[i] = (x0 + col + 0.5, y0 + row + 0.5)
    return holds, poles


def every_region_pole(
    labels: NDArray[np.int32], count: int, *, half_width_px: int, half_height_px: int
) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    """`region_poles` of all `count` regions at once, from one border mask, erosion and distance
    transform of the whole map (as `fits_mask` measures), not one of each region's bounds: a
    poster's bands are long and slanted, and their bounds add up to eight times the map. OpenCV
    sums the chamfer steps in float, so a window's distances can differ from the whole map's in
    the last bit, and where two pixels nearly tie the pole can be the neighbour of the one
    `region_poles` picks."""
    clear = np.logical_not(border_mask(labels)).view(np.uint8)
    fits = room_inside(clear, half_width_px=half_width_px, half_height_px=half_height_px)
    score = np.asarray(cv2.distanceTransform(clear, cv2.DIST_L2, cv2.DIST_MASK_5), dtype=np.float32)
    del clear
    where = fits.view(np.bool_)  # box centres, in scan order: the first at a region's best is its pole
    region, distance = labels[where], score[where]
    del score
    best = np.full(count, -1.0, dtype=np.float32)  # a box centre is clear: at least 1 from a border
    np.maximum.at(best, region, distance)
    at_best = np.flatnonzero(distance == best[region])
    found, first = np.unique(region[at_best], return_index=True)
    nth = at_best[first]  # each pole's rank among the box centres in scan order
    per_row = np.concatenate([np.zeros(1, np.int64), np.cumsum(np.count_nonzero(where, axis=1))])
    rows = np.searchsorted(per_row, nth, side="right") - 1
    holds = np.zeros(count, dtype=bool)
    poles = np.full((count, 2), np.nan, dtype=np.float32)
    holds[found] = True
    for r, row, rank in zip(found.tolist(), rows.tolist(), (nth - per_row[rows]).tolist(), strict=True):
        col = int(np.flatnonzero(where[row])[rank])
        poles[r] = (col + 0.5, row + 0.5)
    return holds, poles


def adjacency_of(
    labels: NDArray[np.int32], bounds: NDArray[np.int64], regions: NDArray[np.int64]
) -> Adjacency:
    """The part of `adjacency` whose `first` is one of `regions`, counted on their bounds."""
    height, width = labels.shape
    first: list[NDArray[np.int64]] = []
    second: list[NDArray[np.int64]] = []
    border: list[NDArray[np.int64]] = []
    for region in regions.tolist():
        y0, y1, x0, x1 = bounds[region].tolist()
        window = labels[max(y0 - 1, 0) : min(y1 + 1, height), max(x0 - 1, 0) : min(x1 + 1, width)]
        inside = window == region
        across = inside[:, :-1] != inside[:, 1:]
        down = inside[:-1, :] != inside[1:, :]
        # The pixel of each differing pair that is not `region` names the neighbour.
        others = np.concatenate(
            [
                np.where(inside[:, :-1], window[:, 1:], window[:, :-1])[across],
                np.where(inside[:-1, :], window[1:, :], window[:-1, :])[down],
            ]
        )
        neighbours, shared = np.unique(others, return_counts=True)
        first.append(np.full(len(neighbours), region, dtype=np.int64))
        second.append(neighbours.astype(np.int64))
        border.append(shared.astype(np.int64))
    if not first:
        empty = np.zeros(0, dtype=np.int64)
        return Adjacency(empty, empty, empty)
    return Adjacency(np.concatenate(first), np.concatenate(second), np.concatenate(border))


def adjacency(labels: NDArray[np.int32], count: int) -> Adjacency:
    """The 4-adjacent region pairs of `labels` (R = `count` regions) and their border lengths."""
    left, right = labels[:, :-1], labels[:, 1:]
    top, bottom = labels[:-1, :], labels[1:, :]
    across = left != right
    down = top != bottom
    a = np.concatenate([left[across], right[across], top[down], bottom[down]]).astype(np.int64)
    b = np.concatenate([right[across], left[across], bottom[down], top[down]]).astype(np.int64)
    keys, border_px = np.unique(a * count + b, return_counts=True)
    return Adjacency(keys // count, keys % count, border_px.astype(np.int64))


def region_stats(
    labels: NDArray[np.int32],
    image: NDArray[np.float32],
    count: int,
    *,
    where: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """(R,) pixel areas and (R, C) mean of `image` (H, W, C) over each region.

    With `where` ((H, W) bool), only those pixels count (e.g. away from borders, where resampling
    blends neighbours); a region with none of them falls back to all its pixels.
    """
    flat = labels.reshape(-1)
    channels = image.reshape(flat.shape[0], -1)
    area = np.bincount(flat, minlength=count).astype(np.int64)
    selected = np.ones(flat.shape[0], dtype=bool) if where is None else where.reshape(-1)
    inner_area = np.bincount(flat[selected], minlength=count)
    fallback = inner_area[flat] == 0
    selected = selected | fallback
    weight_area = np.bincount(flat[selected], minlength=count)
    sums = np.stack(
        [
            np.bincount(flat[selected], weights=channels[selected, c], minlength=count)
            for c in range(channels.shape[1])
        ],
        axis=1,
    )
    return area, sums / np.maximum(weight_area, 1)[:, None]


def relabelled(
    labels: NDArray[np.int32], root: NDArray[np.int64], *, in_place: bool = False
) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.int64]]:
    """Map each region r to `root[r]` and renumber the roots 0..R'-1 in order (`in_place`:
    in `labels` itself, each pixel read before it is written).

    Returns the new (H, W) int32 labels, for each new region its old root index, and for each
    old region its new index.
    """
    kept, compact = np.unique(root, return_inverse=True)
    new_of_old = compact.reshape(-1).astype(np.int64)
    out = gathered(new_of_old.astype(np.int32), labels, in_place=in_place)
    return out, kept.astype(np.int64), new_of_old


def gathered(
    table: NDArray[np.int32], labels: NDArray[np.int32], *, in_place: bool = False
) -> NDArray[np.int32]:
    """`table[labels]` (`in_place`: in `labels` itself).

    A take first copies its indices as int64: over a poster's 50 MP map that is 400 MB of fresh
    memory (page faults), so in place the map goes a band of rows (about 2 MB) at a time.
    """
    if not in_place:
        return np.take(table, labels, mode="clip")  # the labels are in range either way
    rows = max(1, GATHER_BAND_PX // max(labels.shape[1], 1))
    for y in range(0, labels.shape[0], rows):
        band = labels[y : y + rows]
        np.take(table, band, out=band, mode="clip")
    return labels


def find_roots(parent: list[int]) -> NDArray[np.int64]:
    """Resolve a union-find forest (`parent[r] == r` at roots) into each node's root."""
    root = np.asarray(parent, dtype=np.int64)
    while True:
        jumped = root[root]
        if np.array_equal(jumped, root):
            return root
        root = jumped


def find(parent: list[int], node: int) -> int:
    """The root of `node`, compressing the path on the way."""
    top = node
    while parent[top] != top:
        top = parent[top]
    while parent[node] != top:
        parent[node], node = top, parent[node]
    return top


def merge_until_fitting(
    labels: NDArray[np.int32],
    *,
    region_color: NDArray[np.int32],
    region_lab: NDArray[np.float64],
    half_width_px: int,
    half_height_px: int,
    join_same_color: bool = True,
    bounds: NDArray[np.int64] | None = None,
    area: NDArray[np.int64] | None = None,
    in_place: bool = False,
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float64], NDArray[np.float32]]:
    """Merge regions until each holds its number box, and (if `join_same_color`) neighbours of
    one color are one region; and where each number goes (`region_poles`).

    A region too small for a (2·hw+1) × (2·hh+1) box clear of its borders joins the neighbour
    whose mean color is closest, favouring the one sharing most of its border; the smallest go
    first and every round merges all of them, for at most `MERGE_ROUNDS_MAX` rounds.

    Parameters
    ----------
    labels
        (H, W) int32 region map, every region 4-connected; not modified unless `in_place`
        (then renumbered in it, and returned).
    region_color
        (R,) int32 palette index of each region; a merged region takes its target's color.
    region_lab
        (R, 3) mean CIELAB of each region, to choose neighbours; merged means are area-weighted.
    bounds, area
        Each region's (`region_bounds`) and pixel count, where the caller has them.

    Returns
    -------
    tuple
        The new labels (H, W) int32, region_color (R',) int32, region_lab (R', 3) float64 and
        each region's pole (R', 2) float32 (x, y), NaN where a region still cannot hold the box.
    """
    # Each region is checked on its bounds once; after a round only the unions are checked again.
    count = len(region_color)
    bounds = region_bounds(labels, count) if bounds is None else bounds
    room = {"half_width_px": half_width_px, "half_height_px": half_height_px}
    fits, poles = every_region_pole(labels, count, **room)
    if area is None:  # bincount takes int64 labels: a poster's would be a 400 MB copy
        area = np.bincount(labels.reshape(-1), minlength=count).astype(np.int64)
    for _ in range(MERGE_ROUNDS_MAX):
        count = len(region_color)
        if count == 1 or (bool(fits.all()) and not join_same_color):
            break
        if join_same_color:
            pairs = adjacency(labels, count)
        else:  # only the failing regions' neighbours are looked at
            pairs = adjacency_of(labels, bounds, np.flatnonzero(~fits))
        same = region_color[pairs.first] == region_color[pairs.second]
        if not join_same_color:
            same[:] = False
        if bool(fits.all()) and not bool(same.any()):
            break
        parent = list(range(count))
        for a, b in zip(pairs.first[same].tolist(), pairs.second[same].tolist(), strict=True):
            parent[find(parent, a)] = find(parent, b)
        joined = np.zeros(count, dtype=bool)
        joined[pairs.first[same]] = True
        best = _best_neighbour(pairs, region_lab, failing=~fits)
        small_first = np.lexsort((np.arange(count), area))
        for r in small_first[(~fits & ~joined)[small_first]].tolist():
            root_r, root_b = find(parent, r), find(parent, int(best[r]))
            if root_r != root_b:
                parent[root_r] = root_b
        labels, kept, new_of_old = relabelled(labels, find_roots(parent), in_place=in_place)
        in_place = True  # the labels are this function's own now
        merged_area = np.bincount(new_of_old, weights=area, minlength=len(kept))
        region_lab = (
            np.stack(
                [
                    np.bincount(new_of_old, weights=area * region_lab[:, c], minlength=len(kept))
                    for c in range(3)
                ],
                axis=1,
            )
            / np.maximum(merged_area, 1)[:, None]
        )
        region_color = region_color[kept]
        area = merged_area.astype(np.int64)
        merged_bounds = np.zeros((len(kept), 4), dtype=np.int64)
        merged_bounds[:, [0, 2]] = np.iinfo(np.int64).max
        np.minimum.at(merged_bounds[:, 0], new_of_old, bounds[:, 0])
        np.maximum.at(merged_bounds[:, 1], new_of_old, bounds[:, 1])
        np.minimum.at(merged_bounds[:, 2], new_of_old, bounds[:, 2])
        np.maximum.at(merged_bounds[:, 3], new_of_old, bounds[:, 3])
        bounds = merged_bounds
        members = np.bincount(new_of_old, minlength=len(kept))
        fits, poles = fits[kept], poles[kept]  # a region of one old region is as it was
        unions = np.flatnonzero(members > 1)
        fits[unions], poles[unions] = region_poles(labels, bounds, unions, **room)
    return labels, region_color, region_lab, poles


def _best_neighbour(
    pairs: Adjacency, region_lab: NDArray[np.float64], *, failing: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """For each failing region, the neighbour to merge into (others map to themselves)."""
    count = len(failing)
    chosen = failing[pairs.first]
    a, b = pairs.first[chosen], pairs.second[chosen]
    shared = pairs.border_px[chosen].astype(np.float64)
    perimeter = np.bincount(a, weights=shared, minlength=count)
    color_distance = np.linalg.norm(region_lab[a] - region_lab[b], axis=1)
    # Closest color first; a neighbour sharing little of the border costs up to twice as much.
    cost = (color_distance + 1.0) * (2.0 - shared / np.maximum(perimeter[a], 1.0))
    order = np.lexsort((b, cost, a))
    a_sorted, b_sorted = a[order], b[order]
    first = np.ones(len(a_sorted), dtype=bool)
    first[1:] = a_sorted[1:] != a_sorted[:-1]
    best = np.arange(count, dtype=np.int64)
    best[a_sorted[first]] = b_sorted[first]
    return best
