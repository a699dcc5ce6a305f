"""Label maps from the working resolution to print resolution, with smooth borders.

Nearest-neighbour enlargement would print staircase borders three or four pixels a step. Instead
each region's indicator is blurred and resampled (bilinear, exact affine) over the parts of its
bounding box it reaches, and every print pixel goes to the region whose resampled indicator is
largest there: a partition again (no gaps, no overlaps), with borders that follow the smoothed
outline.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Final, NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from skimage.measure import label as connected_label

from mosaic.imaging.regions import gathered

BORDER_SIGMA_PX: Final = 1.2  # blur of each indicator, in working pixels: rounds off corners
STRIP_PX: Final = 48  # output rows at a time, in which a region's indicator is compared where it reaches
SPAN_GAP_PX: Final = 4  # ... in runs of working columns, apart when this far


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
    crops = []
    for index, found in enumerate(ndimage.find_objects(labels + 1, max_label=count)):
        if found is None:
            continue
        y0, y1 = max(found[0].start - margin, 0), min(found[0].stop + margin, small_h)
        x0, x1 = max(found[1].start - margin, 0), min(found[1].stop + margin, small_w)
        # y1 · (height / small_h) can round above `height` (50 · (55 / 50) is 55.000…01): clamped,
        # or the crop at the frame would be a pixel larger than the window it is compared with.
        big_y0, big_y1 = math.floor(y0 * scale_y), min(math.ceil(y1 * scale_y), height)
        big_x0, big_x1 = math.floor(x0 * scale_x), min(math.ceil(x1 * scale_x), width)
        crops.append((index, y0, y1, x0, x1, big_y0, big_y1, big_x0, big_x1))
    # One buffer for every region's resampled indicator and one for where it wins: a poster's
    # boxes add up to ten times the map, and fresh arrays that size are paid for in page faults.
    largest = max(((b_y1 - b_y0) * (b_x1 - b_x0) for *_, b_y0, b_y1, b_x0, b_x1 in crops), default=0)
    sample_buffer = np.empty(largest, dtype=np.float32)
    wins_buffer = np.empty(largest, dtype=np.bool_)
    best = np.full((height, width), -1.0, dtype=np.float32)
    out = np.zeros((height, width), dtype=np.int32)
    for index, y0, y1, x0, x1, big_y0, big_y1, big_x0, big_x1 in crops:
        indicator = (labels[y0:y1, x0:x1] == index).astype(np.float32)
        blurred = cv2.GaussianBlur(indicator, (0, 0), BORDER_SIGMA_PX, borderType=cv2.BORDER_REPLICATE)
        box_h, box_w = big_y1 - big_y0, big_x1 - big_x0
        for rows, cols in _reaching(
            blurred > 0, (y0, x0, big_y0, big_x0), (box_h, box_w), (scale_y, scale_x)
        ):
            top, left = big_y0 + rows.start, big_x0 + cols.start
            part_h, part_w = rows.stop - rows.start, cols.stop - cols.start
            # Output pixel X samples the input at (X + 0.5) / scale - 0.5, relative to the crop.
            affine = np.array(
                [
                    [1.0 / scale_x, 0.0, (left + 0.5) / scale_x - 0.5 - x0],
                    [0.0, 1.0 / scale_y, (top + 0.5) / scale_y - 0.5 - y0],
                ]
            )
            here = cv2.warpAffine(
                blurred,
                affine,
                (part_w, part_h),
                dst=sample_buffer[: part_h * part_w].reshape(part_h, part_w),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )
            window = best[top : top + part_h, left : left + part_w]
            # Masked copies in place: boolean indexing would gather and scatter every winning pixel.
            wins = np.greater(here, window, out=wins_buffer[: here.size].reshape(here.shape))
            np.copyto(window, here, where=wins)
            np.copyto(out[top : top + part_h, left : left + part_w], index, where=wins)
    return out


def _reaching(
    nonzero: NDArray[np.bool_],
    corners: tuple[int, int, int, int],
    box: tuple[int, int],
    scale: tuple[float, float],
) -> Iterator[tuple[slice, slice]]:
    """The parts of a region's output box its resampled indicator can be positive in: output
    rows `STRIP_PX` at a time, and in each the columns sampling a run of `nonzero` (its blurred
    indicator's crop) columns, runs less than `SPAN_GAP_PX` apart taken together. Everywhere
    else the indicator resamples to exactly 0, which never wins a pixel: each has a region
    positive there (its nearest sample's own)."""
    y0, x0, big_y0, big_x0 = corners
    box_h, box_w = box
    scale_y, scale_x = scale
    for top in range(0, box_h, STRIP_PX):
        bottom = min(top + STRIP_PX, box_h)
        # The crop rows these rows sample (bilinear: a row and the next), one more each way.
        first = math.floor((big_y0 + top + 0.5) / scale_y - 0.5) - y0 - 1
        last = math.floor((big_y0 + bottom - 0.5) / scale_y - 0.5) - y0 + 2
        cols = np.flatnonzero(nonzero[max(first, 0) : max(last + 1, 0)].any(axis=0))
        if not len(cols):
            continue
        gaps = np.flatnonzero(np.diff(cols) > SPAN_GAP_PX)
        for c0, c1 in zip(
            cols[np.r_[0, gaps + 1]].tolist(), (cols[np.r_[gaps, -1]] + 1).tolist(), strict=True
        ):
            # Output column X samples crop columns floor(u) and floor(u) + 1, u = (X + 0.5) /
            # scale - 0.5 - x0: some of [c0, c1) for u in [c0 - 1, c1); two pixels more each way.
            left = math.floor((x0 + c0 - 0.5) * scale_x - 0.5) - big_x0 - 2
            right = math.ceil((x0 + c1 + 0.5) * scale_x - 0.5) - big_x0 + 2
            yield slice(top, bottom), slice(max(left, 0), min(right, box_w))


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


def split_regions(labels: NDArray[np.int32], count: int, *, in_place: bool = False) -> Pieces:
    """`split_pieces` of a map of region indices 0..count-1 (some may be absent), from its runs:
    the stretches of one value along a row (a print-size map has about 14 pixels a run). A run
    joins each run of the row below that overlaps it with the same value, and the pieces are the
    connected components of that graph; a labelling on each region's bounding box covered the
    long slanted bands of a poster nine times over. Numbered as `split_pieces` numbers them;
    `in_place` numbers them in `labels` itself (read whole before it is written)."""
    height, width = labels.shape
    flat = labels.reshape(-1)
    change = labels[:, 1:] != labels[:, :-1]
    per_row = np.count_nonzero(change, axis=1)
    after = np.flatnonzero(change)  # in (H, W - 1): to the map's pixel after each change
    del change
    if len(after):
        after += after // (width - 1) + 1
    row_first = np.arange(height, dtype=np.int64) * width
    starts = np.insert(after, np.concatenate([np.zeros(1, np.int64), np.cumsum(per_row)[:-1]]), row_first)
    value = flat[starts]
    length = np.diff(starts, append=flat.shape[0])
    row = starts // width
    # Two runs of neighbouring rows overlap from the later of their starts: each such pair is the
    # run above or below a start and the run whose start it is.
    pairs = []
    for step in (width, -width):
        has = np.flatnonzero((row < height - 1) if step > 0 else (row > 0))
        other = starts[has] + step
        alike = flat[other] == value[has]
        pairs.append((has[alike], np.searchsorted(starts, other[alike], side="right") - 1))
    first_run = np.concatenate([pairs[0][0], pairs[1][0]])
    second_run = np.concatenate([pairs[0][1], pairs[1][1]])
    links = coo_matrix((np.ones(len(first_run), np.int8), (first_run, second_run)), shape=(len(starts),) * 2)
    count_pieces, component = connected_components(links, directed=False)
    # A piece's first run holds its first pixel in raster order: the pieces are numbered by it.
    found, first = np.unique(component, return_index=True)
    by_start = np.argsort(first, kind="stable")
    number = np.empty(count_pieces, dtype=np.int64)
    number[found[by_start]] = np.arange(count_pieces)
    piece = number[component]
    first = first[by_start]
    origin = value[first].astype(np.int64)
    area = np.zeros(count_pieces, dtype=np.int64)
    np.add.at(area, piece, length)
    # The map in one gather, each region as its largest piece; the other pieces' runs then.
    by_region = np.lexsort((-area, origin))
    largest = by_region[np.concatenate([[True], origin[by_region][1:] != origin[by_region][:-1]])]
    main = np.full(count, -1, dtype=np.int64)
    main[origin[largest]] = largest
    out = gathered(main.astype(np.int32), labels, in_place=in_place)
    rest = piece != main[value]
    if bool(rest.any()):
        rest_length = length[rest]
        shift = np.repeat(starts[rest] - (np.cumsum(rest_length) - rest_length), rest_length)
        out.reshape(-1)[shift + np.arange(len(shift))] = np.repeat(piece[rest].astype(np.int32), rest_length)
    x0 = starts - row * width
    bounds = np.empty((count_pieces, 4), dtype=np.int64)
    bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3] = row[first], 0, width, 0
    np.maximum.at(bounds[:, 1], piece, row + 1)
    np.minimum.at(bounds[:, 2], piece, x0)
    np.maximum.at(bounds[:, 3], piece, x0 + length)
    return Pieces(out, origin, bounds, area)
