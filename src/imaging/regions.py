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

REGIONS_MAX: Final = 1 << 24  # pair keys a·R + b must fit in int64 comfortably
MERGE_ROUNDS_MAX: Final = 64  # each round merges every region that is too small at once


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


def without_thin_parts(index_map: NDArray[np.int32], *, square_px: int) -> NDArray[np.int32]:
    """Morphological opening of a partition: parts narrower than `square_px` join their neighbours.

    A pixel is kept if some `square_px` × `square_px` square of one value covers it; every other
    pixel takes the value of the nearest kept pixel. So no region keeps a sliver or a tail
    thinner than the square (at print resolution, the line would swallow it).

    Parameters
    ----------
    index_map
        (H, W) int32 values (palette indices or region labels); not modified.
    square_px
        Side of the square, ≥ 2.

    Returns
    -------
    NDArray[np.int32]
        (H, W) int32, the opened map (unchanged where nothing is thin).
    """
    assert square_px >= 2
    height, width = index_map.shape
    if height < square_px or width < square_px:
        return index_map.copy()
    across = np.zeros(index_map.shape, dtype=np.uint8)
    down = np.zeros(index_map.shape, dtype=np.uint8)
    across[:, :-1] = index_map[:, :-1] == index_map[:, 1:]
    down[:-1, :] = index_map[:-1, :] == index_map[1:, :]
    # Erosion anchored top-left: is the square whose top-left corner is here all one value?
    corner = (0, 0)
    same_across = cv2.erode(across, np.ones((square_px, square_px - 1), np.uint8), anchor=corner)
    same_down = cv2.erode(down, np.ones((square_px - 1, square_px), np.uint8), anchor=corner)
    uniform = np.asarray(same_across, dtype=np.uint8) & np.asarray(same_down, dtype=np.uint8)
    uniform[height - square_px + 1 :, :] = 0
    uniform[:, width - square_px + 1 :] = 0
    last = (square_px - 1, square_px - 1)
    covered = cv2.dilate(uniform, np.ones((square_px, square_px), np.uint8), anchor=last)
    thin = covered == 0
    del across, down, same_across, same_down, uniform, covered  # a poster's masks are 50 MB each
    if not bool(thin.any()) or bool(thin.all()):
        return index_map.copy()
    # Each thin pixel takes the value of its nearest kept one: OpenCV labels every kept pixel in
    # raster order (1, 2, …) and spreads the labels over the rest, several times faster than an
    # exact feature transform on a poster's 75 MP (the 5×5 metric is within 2 % of Euclidean).
    nearest = cv2.distanceTransformWithLabels(  # the distances are not kept: 200 MB on a poster
        thin.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5, labelType=cv2.DIST_LABEL_PIXEL
    )[1]
    kept_values = np.concatenate([np.zeros(1, np.int32), index_map[~thin]])  # label 0 is unused
    out: NDArray[np.int32] = np.asarray(kept_values[nearest], dtype=np.int32)
    return out


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
    labels: NDArray[np.int32], root: NDArray[np.int64]
) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.int64]]:
    """Map each region r to `root[r]` and renumber the roots 0..R'-1 in order.

    Returns the new (H, W) int32 labels, for each new region its old root index, and for each
    old region its new index.
    """
    kept, compact = np.unique(root, return_inverse=True)
    new_of_old = compact.reshape(-1).astype(np.int64)
    return new_of_old.astype(np.int32)[labels], kept.astype(np.int64), new_of_old


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
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.float64]]:
    """Merge regions until each holds its number box, and (if `join_same_color`) neighbours of
    one color are one region.

    A region too small for a (2·hw+1) × (2·hh+1) box clear of its borders joins the neighbour
    whose mean color is closest, favouring the one sharing most of its border; the smallest go
    first and every round merges all of them, for at most `MERGE_ROUNDS_MAX` rounds.

    Parameters
    ----------
    labels
        (H, W) int32 region map, every region 4-connected; not modified.
    region_color
        (R,) int32 palette index of each region; a merged region takes its target's color.
    region_lab
        (R, 3) mean CIELAB of each region, to choose neighbours; merged means are area-weighted.

    Returns
    -------
    tuple
        The new labels (H, W) int32, region_color (R',) int32 and region_lab (R', 3) float64.
    """
    for _ in range(MERGE_ROUNDS_MAX):
        count = len(region_color)
        border = border_mask(labels)
        fits = regions_fitting(
            labels,
            fits_mask(border, half_width_px=half_width_px, half_height_px=half_height_px),
            count,
        )
        if count == 1 or (bool(fits.all()) and not join_same_color):
            break
        pairs = adjacency(labels, count)
        same = region_color[pairs.first] == region_color[pairs.second]
        if not join_same_color:
            same[:] = False
        if bool(fits.all()) and not bool(same.any()):
            break
        area = np.bincount(labels.reshape(-1), minlength=count).astype(np.int64)
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
        labels, kept, new_of_old = relabelled(labels, find_roots(parent))
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
    return labels, region_color, region_lab


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
