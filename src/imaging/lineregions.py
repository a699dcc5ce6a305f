"""The regions of a line drawing: paper between the lines, their colors and their poles.

Used by `lineart`: the ink is drawn first, the regions follow from it, so the colored reference
page is colored exactly between the printed lines.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.color import nearest_palette_index, palette_kmeans, quick_lab_from_rgb, rgb_u8_from_lab
from mosaic.imaging.decode import resize_rgb

COLOR_STEP_PX: Final = 3  # region colors are averaged on a 100 dpi grid


def paper_regions(ink: NDArray[np.bool_], *, area_min_px: float) -> NDArray[np.int32]:
    """Label the paper between the lines; every pixel gets a region.

    Parameters
    ----------
    ink
        (H, W) bool drawing; not modified.
    area_min_px
        Paper pieces smaller than this are not regions of their own.

    Returns
    -------
    NDArray[np.int32]
        (H, W) region index 0..R-1 of every pixel: the 4-connected paper pieces of at least
        `area_min_px` pixels, in raster order; ink and smaller pieces go to the nearest region.
    """
    paper = np.asarray(~ink, dtype=np.uint8)
    _, found, stats, _ = cv2.connectedComponentsWithStats(paper, connectivity=4, ltype=cv2.CV_32S)
    pieces = np.asarray(found, dtype=np.int32)
    big = stats[:, cv2.CC_STAT_AREA] >= area_min_px
    big[0] = False  # label 0 is the ink
    big_count = int(big.sum())
    if big_count == 0:
        return np.zeros(ink.shape, dtype=np.int32)
    for small in (np.flatnonzero(~big[1:]) + 1).tolist():  # small pieces join the unset pixels
        x, y, w, h = (int(v) for v in stats[small, :4])
        paper[y : y + h, x : x + w][pieces[y : y + h, x : x + w] == small] = 0
    unset = 1 - paper
    if not unset.any():
        out: NDArray[np.int32] = pieces - 1
        return out
    # Each unset pixel takes the region of its nearest set pixel. OpenCV labels the set pixels'
    # 8-connected components: when they are the 4-connected pieces (none touches another at a
    # corner), its labels are the regions already (numbered alike, in raster order).
    _, found = cv2.distanceTransformWithLabels(unset, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_CCOMP)
    nearest = np.asarray(found, dtype=np.int32)
    if int(nearest.max()) == big_count:
        nearest -= 1
        return nearest
    # Two pieces meet at a corner: label set pixels one by one (labels count them in raster
    # order, from 1) and map each to its piece's region.
    _, found = cv2.distanceTransformWithLabels(unset, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    index = np.where(big, np.cumsum(big) - 1, -1).astype(np.int32)
    region_of_seed = np.concatenate([np.zeros(1, dtype=np.int32), index.take(pieces[paper > 0])])
    out = region_of_seed.take(np.asarray(found, dtype=np.int32))
    return out


def regions_poles(
    labels: NDArray[np.int32], ink: NDArray[np.bool_], *, region_count: int
) -> NDArray[np.float32]:
    """(R, 2) float32 (x, y), pixel centres at integers: each region's point farthest from ink,
    from other regions and from the frame (its pole of inaccessibility, to the pixel)."""
    free = ~ink
    same_x = labels[:, :-1] == labels[:, 1:]
    free[:, :-1] &= same_x
    free[:, 1:] &= same_x
    same_y = labels[:-1, :] == labels[1:, :]
    free[:-1, :] &= same_y
    free[1:, :] &= same_y
    framed = np.pad(free.view(np.uint8), 1)
    distance = cv2.distanceTransform(framed, cv2.DIST_L2, 3)[1:-1, 1:-1]
    # A region's farthest pixel is a local maximum of the whole map (its 8 neighbours are of its
    # own region, or not free: no two free pixels of different regions touch, even at a corner),
    # so only the local maxima are candidates: a few percent of the pixels.
    peak = (distance >= cv2.dilate(distance, np.ones((3, 3), dtype=np.uint8))) & (distance > 0)
    candidates = np.flatnonzero(peak)
    flat = labels.reshape(-1)
    region = flat.take(candidates)
    value = distance.reshape(-1).take(candidates)
    best = np.full(region_count, -1.0, dtype=np.float32)
    np.maximum.at(best, region, value)
    is_best = value == best[region]
    pole = np.full(region_count, -1, dtype=np.int64)
    regions, first = np.unique(region[is_best], return_index=True)  # the first in raster order
    pole[regions] = candidates[is_best][first]
    unfree = np.flatnonzero(pole < 0)
    if len(unfree):  # no free pixel at all: the region's first pixel
        is_unfree = np.zeros(region_count, dtype=bool)
        is_unfree[unfree] = True
        where = np.flatnonzero(is_unfree.take(flat))
        regions, first = np.unique(flat.take(where), return_index=True)
        pole[regions] = where[first]
    assert bool(np.all(pole >= 0))
    y, x = np.divmod(pole, labels.shape[1])
    return np.stack([x, y], axis=1).astype(np.float32)


def region_palette(
    rgb: NDArray[np.uint8],
    labels: NDArray[np.int32],
    *,
    region_count: int,
    colors: int,
    seed: int,
) -> tuple[NDArray[np.int32], NDArray[np.uint8]]:
    """Palette index (R,) int32 of each region's mean color, and the palette (colors, 3) uint8.

    `rgb` (H', W', 3) uint8 fills the box of `labels` (H, W); it is resampled to a `COLOR_STEP_PX`
    grid. A region that grid misses takes the color of the grid sample nearest its first pixel.
    """
    step = COLOR_STEP_PX
    sampled = labels[step // 2 :: step, step // 2 :: step]
    small = resize_rgb(rgb, width=sampled.shape[1], height=sampled.shape[0])
    lab = quick_lab_from_rgb(small).reshape(-1, 3)
    flat = sampled.ravel()
    counts = np.bincount(flat, minlength=region_count).astype(np.float64)
    sums = np.stack([np.bincount(flat, weights=lab[:, c], minlength=region_count) for c in range(3)], axis=1)
    means = sums / np.maximum(counts, 1.0)[:, None]
    missing = np.flatnonzero(counts == 0)
    if len(missing):
        means[missing] = _colors_of_missing(labels, lab, sampled.shape, missing)
    weights = np.maximum(counts, 1.0).astype(np.float32)
    palette_lab = palette_kmeans(means.astype(np.float32), colors=colors, seed=seed, weights=weights)
    region_color = nearest_palette_index(means.astype(np.float32), palette_lab).astype(np.int32)
    return region_color, rgb_u8_from_lab(palette_lab)


def _colors_of_missing(
    labels: NDArray[np.int32],
    lab: NDArray[np.float32],
    sampled_shape: tuple[int, int],
    missing: NDArray[np.int64],
) -> NDArray[np.float32]:
    is_missing = np.zeros(int(labels.max()) + 1, dtype=bool)
    is_missing[missing] = True
    where = np.flatnonzero(is_missing[labels.ravel()])
    regions, first = np.unique(labels.ravel()[where], return_index=True)
    y, x = np.divmod(where[first], labels.shape[1])
    rows = np.minimum(y // COLOR_STEP_PX, sampled_shape[0] - 1)
    cols = np.minimum(x // COLOR_STEP_PX, sampled_shape[1] - 1)
    colors = lab[rows * sampled_shape[1] + cols]
    order = np.searchsorted(regions, missing)
    return np.asarray(colors[order], dtype=np.float32)
