"""Label maps from the working resolution to print resolution, with smooth borders.

Nearest-neighbour enlargement would print staircase borders three or four pixels a step. Instead
each region's indicator is blurred and resampled (bilinear, exact affine) over its own bounding
box, and every print pixel goes to the region whose resampled indicator is largest there: a
partition again (no gaps, no overlaps), with borders that follow the smoothed outline.
"""

from __future__ import annotations

import math
from typing import Final

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
        wins = resampled > window
        window[wins] = resampled[wins]
        out[big_y0:big_y1, big_x0:big_x1][wins] = index
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
