"""Clean one-pixel line skeletons, and draw them as strokes of a given width at print resolution.

The skeleton of an edge map has spurs (short side branches), fragments (short isolated strokes)
and gaps (a contour interrupted for a few pixels). `cleaned_skeleton` removes the first two and
bridges the third: an endpoint is extended along its own direction, and joined to the first line
it meets within the gap length, or to a nearby endpoint of another stroke.
"""

from __future__ import annotations

import math
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from skimage.morphology import skeletonize as _skeletonize

DIRECTION_RADIUS_PX: Final = 4  # an endpoint's direction is read from the stroke this far back
ENDPOINTS_MAX: Final = 200_000
SAME_STROKE_GAPS: Final = 4  # both ends of one stroke are joined only if it is this many gaps long
_NEIGHBOURS: Final = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float32)


def skeleton_of(mask: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """(H, W) 0/1 uint8 one-pixel-wide, 8-connected skeleton of `mask` (Zhang's thinning)."""
    thin: NDArray[np.bool_] = _skeletonize(mask)  # type: ignore[no-untyped-call]
    return thin.astype(np.uint8)


def _neighbour_count(skeleton: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """(H, W) uint8: how many of the 8 neighbours of each pixel are set (0 outside the skeleton)."""
    count = cv2.filter2D(skeleton, cv2.CV_8U, _NEIGHBOURS, borderType=cv2.BORDER_CONSTANT)
    return np.asarray(count * skeleton, dtype=np.uint8)


def _endpoints(skeleton: NDArray[np.uint8]) -> NDArray[np.bool_]:
    return np.asarray(_neighbour_count(skeleton) == 1)


def without_fragments(skeleton: NDArray[np.uint8], *, length_min_px: int) -> NDArray[np.uint8]:
    """Remove 8-connected strokes of fewer than `length_min_px` pixels; (H, W) uint8 0/1."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(skeleton, connectivity=8)
    keep = stats[:, cv2.CC_STAT_AREA] >= length_min_px
    keep[0] = False
    return np.asarray(keep[labels], dtype=np.uint8)


def without_spurs(skeleton: NDArray[np.uint8], *, length_px: int) -> NDArray[np.uint8]:
    """Prune side branches shorter than `length_px`: peel endpoints `length_px` times, then grow
    the surviving ends back along the original skeleton as far."""
    pruned = skeleton.copy()
    for _ in range(length_px):
        pruned[_endpoints(pruned)] = 0
    ends = _endpoints(pruned).astype(np.uint8)
    kernel = np.ones((3, 3), dtype=np.uint8)
    grown = ends
    for _ in range(length_px):
        grown = np.asarray(cv2.dilate(grown, kernel), dtype=np.uint8) & skeleton
    return np.asarray(pruned | grown, dtype=np.uint8)


def _directions(skeleton: NDArray[np.uint8], ends: NDArray[np.int64]) -> NDArray[np.float64]:
    """(E, 2) unit (dy, dx) pointing out of the stroke at each endpoint (E, 2) (row, column)."""
    r = DIRECTION_RADIUS_PX
    padded = np.pad(skeleton, r)
    offsets = np.arange(-r, r + 1)
    rows = ends[:, 0, None, None] + r + offsets[None, :, None]
    cols = ends[:, 1, None, None] + r + offsets[None, None, :]
    window = padded[rows, cols].astype(np.float64)  # (E, 2r+1, 2r+1)
    dy = -(window * offsets[None, :, None]).sum(axis=(1, 2))
    dx = -(window * offsets[None, None, :]).sum(axis=(1, 2))
    norm = np.maximum(np.hypot(dy, dx), 1e-9)
    return np.stack([dy / norm, dx / norm], axis=1)


def with_gaps_closed(skeleton: NDArray[np.uint8], *, gap_px: int) -> NDArray[np.uint8]:
    """Bridge gaps of up to `gap_px`: extend each endpoint straight ahead until it meets a line,
    and join endpoints closer than `gap_px` (of different strokes, or of one long stroke)."""
    ends = np.argwhere(_endpoints(skeleton))[:ENDPOINTS_MAX]
    out = skeleton.copy()
    if len(ends) == 0:
        return out
    direction = _directions(skeleton, ends)
    height, width = skeleton.shape
    # A ray can slip between the pixels of a diagonal line: test against the line widened by one.
    # The frame counts as a line, so a stroke that nearly reaches it closes its region.
    target_mask = cv2.dilate(skeleton, np.ones((3, 3), dtype=np.uint8))
    target_mask[[0, -1], :] = 1
    target_mask[:, [0, -1]] = 1
    reached = np.full(len(ends), -1, dtype=np.int64)
    for step in range(DIRECTION_RADIUS_PX, gap_px + 1):
        ahead = np.rint(ends + direction * step).astype(np.int64)
        inside = (ahead[:, 0] >= 0) & (ahead[:, 0] < height) & (ahead[:, 1] >= 0)
        inside &= ahead[:, 1] < width
        hit = np.zeros(len(ends), dtype=bool)
        hit[inside] = target_mask[ahead[inside, 0], ahead[inside, 1]] > 0
        reached[(reached < 0) & hit] = step
    for k in np.flatnonzero(reached > 0).tolist():
        end = ends[k]
        target = np.rint(end + direction[k] * (reached[k] + 1)).astype(np.int64)
        cv2.line(out, (int(end[1]), int(end[0])), (int(target[1]), int(target[0])), 1)
    _, stroke, stats, _ = cv2.connectedComponentsWithStats(skeleton, connectivity=8)
    long_stroke = stats[:, cv2.CC_STAT_AREA] >= SAME_STROKE_GAPS * gap_px
    pairs = cKDTree(ends).query_pairs(float(gap_px), output_type="ndarray")
    for a, b in pairs.tolist():
        stroke_a, stroke_b = stroke[ends[a, 0], ends[a, 1]], stroke[ends[b, 0], ends[b, 1]]
        if stroke_a != stroke_b or long_stroke[stroke_a]:
            cv2.line(out, (int(ends[a, 1]), int(ends[a, 0])), (int(ends[b, 1]), int(ends[b, 0])), 1)
    return out


def cleaned_skeleton(
    lines: NDArray[np.bool_], *, spur_px: int, gap_px: int, fragment_px: int
) -> NDArray[np.uint8]:
    """Thin a line mask (H, W) bool to one pixel, prune spurs, close gaps, drop fragments.

    Returns
    -------
    NDArray[np.uint8]
        (H, W) 0/1 skeleton, 8-connected.
    """
    skeleton = skeleton_of(lines)
    skeleton = without_fragments(skeleton, length_min_px=fragment_px)
    skeleton = without_spurs(skeleton, length_px=spur_px)
    skeleton = with_gaps_closed(skeleton, gap_px=gap_px)
    skeleton = skeleton_of(skeleton.astype(bool))
    return without_fragments(skeleton, length_min_px=fragment_px)


def drawn_strokes(
    skeleton: NDArray[np.uint8], *, scale: float, height: int, width: int, line_width_px: float
) -> NDArray[np.bool_]:
    """Draw every link between 8-neighbours of `skeleton` as a round-capped stroke.

    Parameters
    ----------
    skeleton
        (h, w) 0/1 uint8 at the working resolution; pixel centres at (j + 0.5, i + 0.5).
    scale
        Output pixels per working pixel.
    height, width
        Size of the output.
    line_width_px
        Stroke width in output pixels, ≥ 1 (round caps and joins).

    Returns
    -------
    NDArray[np.bool_]
        (height, width) ink.
    """
    shift = 4
    canvas = np.zeros((height, width), dtype=np.uint8)
    links = []
    h, w = skeleton.shape
    padded = np.pad(skeleton, 1)
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        linked = skeleton & padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        if dx != 0 and dy != 0:  # a diagonal beside an orthogonal corner would thicken it
            linked &= ~(padded[1 : 1 + h, 1 + dx : 1 + dx + w] | padded[2 : 2 + h, 1 : 1 + w])
        rows, cols = np.nonzero(linked)
        start = np.stack([cols, rows], axis=1)
        links.append(np.stack([start, start + np.array([dx, dy])], axis=1))
    isolated = np.argwhere((skeleton > 0) & (_neighbour_count(skeleton) == 0))[:, ::-1]
    links.append(np.stack([isolated, isolated], axis=1))
    segments = np.concatenate(links).astype(np.float64)
    points = np.rint(((segments + 0.5) * scale - 0.5) * (1 << shift)).astype(np.int32)
    cv2.polylines(canvas, list(points), isClosed=False, color=1, thickness=1, shift=shift)
    # OpenCV's thick lines come out about two pixels wider than asked: widen the thin line
    # exactly instead, keeping every pixel within half the width of it (a disk-shaped dilation:
    # a fifth of the time of a distance transform, and exact rather than a 5×5 chamfer).
    radius = line_width_px / 2.0
    reach = math.ceil(radius)
    offsets = np.arange(-reach, reach + 1)
    disk = (offsets[:, None] ** 2 + offsets[None, :] ** 2 < radius**2).astype(np.uint8)
    ink: NDArray[np.bool_] = np.asarray(cv2.dilate(canvas, disk), dtype=np.uint8).view(bool)
    return ink
