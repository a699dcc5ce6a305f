"""Label maps from the working resolution to print resolution, with smooth borders.

Nearest-neighbour enlargement would print staircase borders three or four pixels a step. Instead
each region's indicator is blurred and resampled (bilinear, exact affine) over its own bounding
box, and every print pixel goes to the region whose resampled indicator is largest there: a
partition again (no gaps, no overlaps), with borders that follow the smoothed outline.
"""

from __future__ import annotations

import math
from typing import Final, NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from skimage.measure import label as connected_label

BORDER_SIGMA_PX: Final = 1.2  # blur of each indicator, in working pixels: rounds off corners


def upsampled_labels(labels: NDArray[np.int32], count: int, *, width: int, height: int) -> NDArray[np.int32]:
    """Resample a (h, w) label map with `count` regions to (height, width), smoothly.

    Parameters
    ----------
    labels
        (h, w) int32 region indices 0..count-1; not modified.
    count
        Number of regions R.
    width, height
        The output size; both at least the input's.

    Returns
    -------
    NDArray[np.int32]
        (height, width) int32, values 0..count-1 (a region may vanish if it was thinner than the
        blur, or split at a thin neck: the caller re-checks connectivity).
    """
    small_h, small_w = labels.shape
    assert width >= small_w and height >= small_h
    scale_x, scale_y = width / small_w, height / small_h
    margin = math.ceil(3 * BORDER_SIGMA_PX) + 1
    best = np.full((height, width), -1.0, dtype=np.float32)
    out = np.zeros((height, width), dtype=np.int32)
    for index, found in enumerate(ndimage.find_objects(labels + 1, max_label=count)):
        if found is None:
            continue
        y0, y1 = max(found[0].start - margin, 0), min(found[0].stop + margin, small_h)
        x0, x1 = max(found[1].start - margin, 0), min(found[1].stop + margin, small_w)
        # y1 · (height / small_h) can round above `height` (50 · (55 / 50) is 55.000…01): clamped,
        # or the crop at the frame would be a pixel larger than the window it is compared with.
        big_y0, big_y1 = math.floor(y0 * scale_y), min(math.ceil(y1 * scale_y), height)
        big_x0, big_x1 = math.floor(x0 * scale_x), min(math.ceil(x1 * scale_x), width)
        indicator = (labels[y0:y1, x0:x1] == index).astype(np.float32)
        blurred = cv2.GaussianBlur(indicator, (0, 0), BORDER_SIGMA_PX, borderType=cv2.BORDER_REPLICATE)
        # Output pixel X samples the input at (X + 0.5) / scale - 0.5, relative to the crop.
        affine = np.array(
            [
                [1.0 / scale_x, 0.0, (big_x0 + 0.5) / scale_x - 0.5 - x0],
                [0.0, 1.0 / scale_y, (big_y0 + 0.5) / scale_y - 0.5 - y0],
            ]
        )
        resampled = cv2.warpAffine(
            blurred,
            affine,
            (big_x1 - big_x0, big_y1 - big_y0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        window = best[big_y0:big_y1, big_x0:big_x1]
        # Masked copies in place: boolean indexing would gather and scatter every winning pixel.
        wins = np.greater(resampled, window)
        np.copyto(window, resampled, where=wins)
        np.copyto(out[big_y0:big_y1, big_x0:big_x1], index, where=wins)
    return out


def split_pieces(labels: NDArray[np.int32]) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
    """Renumber `labels` so every 4-connected piece is its own region.

    Returns
    -------
    tuple
        (H, W) int32 labels 0..P-1 and (P,) int64: the input region each piece came from.
    """
    found = connected_label(labels, connectivity=1, background=-1)  # type: ignore[no-untyped-call]
    pieces = np.asarray(found, dtype=np.int32)
    del found  # int64: 400 MB at a poster's size
    pieces -= 1
    count = int(pieces.max()) + 1
    origin = np.zeros(count, dtype=np.int64)
    origin[pieces.reshape(-1)] = labels.reshape(-1)
    return pieces, origin


class Pieces(NamedTuple):
    """A label map split into 4-connected pieces (`split_regions`)."""

    labels: NDArray[np.int32]  # (H, W) int32 pieces 0..P-1, in scan order of their first pixels
    origin: NDArray[np.int64]  # (P,) the input region each came from
    bounds: NDArray[np.int64]  # (P, 4) y0, y1, x0, x1 (ends exclusive): each one's bounding box
    area: NDArray[np.int64]  # (P,) pixels


def split_regions(labels: NDArray[np.int32], count: int) -> Pieces:
    """`split_pieces` of a map of region indices 0..count-1 (some may be absent), each region split
    on its bounding box: the one map-wide pass left is the renumbering (a print-size map has a few
    thousand regions, nearly all in one piece). Numbered as `split_pieces` numbers them."""
    width = labels.shape[1]
    starts: list[int] = []  # each piece's first pixel, in raster order
    origins: list[int] = []
    boxes: list[tuple[int, int, int, int]] = []
    areas: list[int] = []
    split: list[tuple[tuple[slice, slice], NDArray[np.int32], int, int]] = []  # window, pieces, first, n
    whole = np.full(count, -1, dtype=np.int64)  # the piece of a region in one piece
    windows: list[tuple[slice, slice] | None] = [None, *ndimage.find_objects(labels, max_label=count - 1)]
    zero = np.flatnonzero((labels == 0).any(axis=1))  # region 0 by hand: no (H, W) `labels + 1`
    if len(zero):
        cols = np.flatnonzero((labels[zero[0] : zero[-1] + 1] == 0).any(axis=0))
        windows[0] = (slice(int(zero[0]), int(zero[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
    for region, window in enumerate(windows):
        if window is None:
            continue
        y0, x0 = window[0].start, window[1].start
        inside = np.equal(labels[window], region).view(np.uint8)
        # Without stats: OpenCV's labelling is twice as fast then, and nearly every region is whole.
        n, found = cv2.connectedComponents(inside, connectivity=4, ltype=cv2.CV_32S)
        if n == 2:  # background and one piece, its box the window's
            whole[region] = len(starts)
            starts.append(y0 * width + x0 + int(np.argmax(inside[0])))
            boxes.append((y0, window[0].stop, x0, window[1].stop))
            areas.append(cv2.countNonZero(inside))
            origins.append(region)
            continue
        pieces = np.asarray(found, dtype=np.int32)
        split.append((window, pieces, len(starts), n))
        for piece in range(1, n):
            mine = pieces == piece
            at = int(np.argmax(mine.reshape(-1)))  # its first pixel in the window
            row, col = divmod(at, pieces.shape[1])
            rows, cols = np.flatnonzero(mine.any(axis=1)), np.flatnonzero(mine.any(axis=0))
            starts.append((y0 + row) * width + x0 + col)
            top, left = y0 + int(rows[0]), x0 + int(cols[0])
            boxes.append((top, y0 + int(rows[-1]) + 1, left, x0 + int(cols[-1]) + 1))
            areas.append(int(np.count_nonzero(mine)))
            origins.append(region)
    order = np.argsort(np.asarray(starts, dtype=np.int64), kind="stable")
    number = np.empty(len(order), dtype=np.int32)
    number[order] = np.arange(len(order), dtype=np.int32)
    lut = np.where(whole >= 0, number[np.maximum(whole, 0)], -1).astype(np.int32)
    out: NDArray[np.int32] = lut[labels]
    for window, pieces, first, n in split:
        for piece in range(1, n):
            np.copyto(out[window], number[first + piece - 1], where=pieces == piece)
    return Pieces(
        out,
        np.asarray(origins, dtype=np.int64)[order],
        np.asarray(boxes, dtype=np.int64).reshape(-1, 4)[order],
        np.asarray(areas, dtype=np.int64)[order],
    )
