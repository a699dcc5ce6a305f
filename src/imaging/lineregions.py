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
from mosaic.imaging.strokes import skeleton_of, without_spurs

COLOR_STEP_PX: Final = 3  # region colors are averaged on a 100 dpi grid
JOIN_MARGIN_PX: Final = 0.5  # lines drawn this close to touching are joined before pieces are judged
HOLE_PX: Final = 4  # pieces this small are inked and thinned with their lines: drawn, they are ink
OPENING_ROUNDS: Final = 8  # rounds of joining small pieces to a neighbour before inking the rest
_WINDOW: Final = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)


def without_small_pieces(
    skeleton: NDArray[np.uint8],
    *,
    area_min_px: float,
    width_min_px: float,
    line_width_px: float,
    spur_px: int,
    kept: NDArray[np.bool_] | None = None,
) -> NDArray[np.uint8]:
    """Open the lines round every piece of paper too small or too narrow to color.

    The pieces are the 4-connected paper between the lines of `skeleton` (h, w) 0/1, the frame
    counting as a line; drawn `line_width_px` wide (at this resolution), a piece keeps the paper
    farther than half that from its lines. One whose paper is under `area_min_px`, or whose
    widest point (twice its largest distance from a line, less a line's width) is under
    `width_min_px`, joins the neighbour it shares the longest border with: the line pixels lying
    between just those two pieces are erased, so the page keeps the picture's own lines and
    loses the one that cut a crumb off. A hole of a pixel or two that thinning left between two
    lines is inked and the lines round it thinned again into one. Pixels of `kept` (a face's
    strokes) are never erased; a piece that still cannot join a neighbour after `OPENING_ROUNDS`
    (a pupil inside an eye's stroke) is inked whole. What is left
    of an erased border where it met other lines (a stub) is pruned like any spur under `spur_px`.

    Returns the new (h, w) 0/1 skeleton.
    """
    half = line_width_px / 2.0
    out = _joined_where_touching(skeleton, half + JOIN_MARGIN_PX)
    if kept is not None:
        kept = (cv2.dilate(kept.view(np.uint8), np.ones((3, 3), dtype=np.uint8)) > 0) & (out > 0)
    for _ in range(OPENING_ROUNDS):
        pieces, small, hole = _small_pieces(
            out, area_min_px=area_min_px, width_min_px=width_min_px, half=half
        )
        if hole.any():  # inked and thinned with the lines round them: one line where there were two
            out[hole[pieces]] = 1
            out = skeleton_of(out > 0)
            pieces, small, _ = _small_pieces(
                out, area_min_px=area_min_px, width_min_px=width_min_px, half=half
            )
        if not small.any():
            break
        erased = _borders_to_open(out, pieces, small)
        if kept is not None:
            erased &= ~kept
        if not erased.any():
            break
        out[erased] = 0
    else:  # the rounds ran out: the last one changed the lines, so judge the pieces again
        pieces, small, _ = _small_pieces(out, area_min_px=area_min_px, width_min_px=width_min_px, half=half)
    out[small[pieces]] = 1
    pruned = without_spurs(out, length_px=spur_px)
    return pruned if kept is None else pruned | (out & kept)


def _joined_where_touching(skeleton: NDArray[np.uint8], reach: float) -> NDArray[np.uint8]:
    """`skeleton` (h, w) 0/1 where lines drawn `reach` px either side would touch made one line:
    the thinned union of the lines so widened. Paper that the drawn lines would pinch off (the
    tip of a narrowing wedge) so becomes ink here too, and the pieces judged are those printed.

    The frame is a line: the page is thinned inside a band of ink wide enough that the band's
    own middle lies outside the page, so a line that nearly reaches the frame is joined to it.
    """
    if reach < 1.0:
        return skeleton.copy()
    span = int(reach)
    offsets = np.arange(-span, span + 1)
    disk = (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= reach**2).astype(np.uint8)
    pad = span + 2
    framed = np.pad(skeleton, pad, constant_values=1)
    thin = skeleton_of(cv2.dilate(framed, disk) > 0)
    return np.ascontiguousarray(thin[pad:-pad, pad:-pad])


def _small_pieces(
    skeleton: NDArray[np.uint8], *, area_min_px: float, width_min_px: float, half: float
) -> tuple[NDArray[np.int32], NDArray[np.bool_], NDArray[np.bool_]]:
    """The paper pieces (h, w) int32 (0 on the lines), which of them (P,) bool are too small, and
    which are holes: at most `HOLE_PX`, a pixel or two the thinning left between diagonal steps,
    which no line can be erased to open (every line pixel round one touches two other pieces)."""
    count, found = cv2.connectedComponents(1 - skeleton, connectivity=4, ltype=cv2.CV_32S)
    pieces = np.asarray(found, dtype=np.int32)
    framed = np.pad(1 - skeleton, 1)  # the frame is a line too
    distance = cv2.distanceTransform(framed, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    flat = pieces.reshape(-1)
    paper = np.bincount(flat, weights=(distance.reshape(-1) > half).astype(np.float64), minlength=count)
    widest = np.zeros(count, dtype=np.float32)
    np.maximum.at(widest, flat, distance.reshape(-1))
    small = (paper < area_min_px) | (2.0 * widest - 2.0 * half < width_min_px)
    small[0] = False
    hole = small & (np.bincount(flat, minlength=count) <= HOLE_PX)
    return pieces, small, hole


def _borders_to_open(
    skeleton: NDArray[np.uint8], pieces: NDArray[np.int32], small: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """(h, w) bool: the line pixels to erase so each small piece joins its longest-bordering
    neighbour, where a border pixel is a line pixel whose 8 neighbours hold exactly two pieces."""
    rows, cols = np.nonzero(skeleton)
    padded = np.pad(pieces, 1)
    around = np.stack([padded[rows + 1 + dy, cols + 1 + dx] for dy, dx in _WINDOW])  # (8, N)
    big = np.iinfo(np.int32).max
    low = np.where(around > 0, around, big).min(axis=0)
    high = around.max(axis=0)
    other = (around > 0) & (around != low) & (around != high)
    two = (low < high) & ~other.any(axis=0)
    low, high = low[two].astype(np.int64), high[two].astype(np.int64)
    count = len(small)
    pair = low * count + high
    pairs, index, length = np.unique(pair, return_inverse=True, return_counts=True)
    first, second = pairs // count, pairs % count
    # Each small piece's candidates: (piece, neighbour, border length), the longest first.
    piece = np.concatenate([first, second])
    neighbour = np.concatenate([second, first])
    shared = np.concatenate([length, length])
    which = np.concatenate([np.arange(len(pairs)), np.arange(len(pairs))])
    is_small = small[piece]
    piece, neighbour, shared, which = piece[is_small], neighbour[is_small], shared[is_small], which[is_small]
    order = np.lexsort((neighbour, -shared, piece))
    piece, which = piece[order], which[order]
    best = np.ones(len(piece), dtype=bool)
    best[1:] = piece[1:] != piece[:-1]
    opened = np.zeros(len(pairs), dtype=bool)
    opened[which[best]] = True
    erased = np.zeros(skeleton.shape, dtype=bool)
    chosen = opened[index]
    erased[rows[two][chosen], cols[two][chosen]] = True
    return erased


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


def free_paper(labels: NDArray[np.int32], ink: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """(H, W) bool: the paper pixels of `ink` none of whose 4 neighbours in `labels` is of
    another region (so no two free pixels of different regions touch, even at a corner)."""
    free = ~ink
    same_x = labels[:, :-1] == labels[:, 1:]
    free[:, :-1] &= same_x
    free[:, 1:] &= same_x
    same_y = labels[:-1, :] == labels[1:, :]
    free[:-1, :] &= same_y
    free[1:, :] &= same_y
    return free


def regions_poles(
    labels: NDArray[np.int32], ink: NDArray[np.bool_], *, region_count: int
) -> NDArray[np.float32]:
    """(R, 2) float32 (x, y), pixel centres at integers: each region's point farthest from ink,
    from other regions and from the frame (its pole of inaccessibility, to the pixel)."""
    framed = np.pad(free_paper(labels, ink).view(np.uint8), 1)
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
