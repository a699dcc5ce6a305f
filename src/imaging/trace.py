"""Vector outlines of the regions of an `Artwork`, for the SVG and the PDF.

Mosaic cells come with exact polygons. Segmented regions (cbn, line art) are traced from the label
map: each region's bounding box is cut out (`scipy.ndimage.find_objects`), its mask traced with
OpenCV's border follower (outer rings and holes, so a fill with the even-odd rule is exact), and each
ring simplified by Douglas-Peucker to within `SIMPLIFY_PX`. Rings run through pixel centres, so two
neighbours' outlines sit a pixel apart; the outline stroke (≥ 0.75 pt, 3 px) covers that seam.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from mosaic.imaging.artwork import Artwork, pt_from_px

SIMPLIFY_PX = 0.8
RING_POINTS_MIN = 3
RINGS_PER_REGION_MAX = 10_000

Ring = NDArray[np.float64]  # (K, 2) x, y in `labels` pixel coordinates (pixel centres are integers)


@dataclass(frozen=True, slots=True)
class Outline:
    """One region's boundary: its outer rings (one per connected piece) and the rings of its holes.

    Stroking the outer rings of every region draws every border; filling a region's outer rings
    painter-style, larger regions first, or all its rings with the even-odd rule, paints it exactly.
    """

    outers: tuple[Ring, ...]
    holes: tuple[Ring, ...]

    @property
    def rings(self) -> tuple[Ring, ...]:
        return self.outers + self.holes

    @property
    def area_px(self) -> float:
        """Area enclosed by the outer rings (shoelace), holes not subtracted: the painter's key."""
        total = 0.0
        for ring in self.outers:
            x, y = ring[:, 0], ring[:, 1]
            total += 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
        return total


def _pixel_ring(x: int, y: int) -> Ring:
    """A region too thin to trace as a polygon: the square of its pixel."""
    return np.array([[x - 0.5, y - 0.5], [x + 0.5, y - 0.5], [x + 0.5, y + 0.5], [x - 0.5, y + 0.5]])


def _traced(mask: NDArray[np.uint8], *, x0: int, y0: int) -> Outline:
    """Trace the outer rings and holes of the (padded by one) `mask`; offset them by (x0, y0)."""
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    assert 0 < len(contours) <= RINGS_PER_REGION_MAX, len(contours)
    outers: list[Ring] = []
    holes: list[Ring] = []
    for contour, links in zip(contours, hierarchy[0], strict=True):
        simple = cv2.approxPolyDP(contour, SIMPLIFY_PX, True)
        points = simple.reshape(-1, 2).astype(np.float64)
        if points.shape[0] < RING_POINTS_MIN:
            points = contour.reshape(-1, 2).astype(np.float64)
        if points.shape[0] < RING_POINTS_MIN:
            x, y = points[0]
            points = _pixel_ring(int(x), int(y))
        points += (x0 - 1, y0 - 1)
        (holes if int(links[3]) >= 0 else outers).append(points)
    return Outline(tuple(outers), tuple(holes))


def region_outlines(artwork: Artwork) -> list[Outline]:
    """Return the outline of each region 0..R-1 (for mosaics, its exact cell polygon).

    The order of regions and rings is fixed by the label map alone, so vector files are
    deterministic.
    """
    if artwork.polygons is not None:
        # Cell polygons tile [0, W] x [0, H] (pixel j spans [j, j + 1]); rings put centres at j.
        return [Outline((np.asarray(p, dtype=np.float64) - 0.5,), ()) for p in artwork.polygons]
    labels = artwork.labels
    slices = ndimage.find_objects(labels + 1, max_label=artwork.region_count)
    outlines: list[Outline] = []
    for region, window in enumerate(slices):
        assert window is not None, f"region {region} has no pixels"
        rows, cols = window
        crop = labels[rows, cols] == region
        padded = np.zeros((crop.shape[0] + 2, crop.shape[1] + 2), dtype=np.uint8)
        padded[1:-1, 1:-1] = crop
        outlines.append(_traced(padded, x0=int(cols.start), y0=int(rows.start)))
    return outlines


def page_pt_from_art_px(artwork: Artwork, points_xy: NDArray[np.float64]) -> NDArray[np.float64]:
    """Convert (K, 2) `labels` pixel coordinates (pixel centres at integers) to page points (pt)."""
    offset = np.array([artwork.box.x + 0.5, artwork.box.y + 0.5])
    scale = pt_from_px(1.0)
    result: NDArray[np.float64] = (np.asarray(points_xy, dtype=np.float64) + offset) * scale
    return result
