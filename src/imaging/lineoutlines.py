"""Closed outlines for coloring pages: the borders of an edge-preserving segmentation.

The edges of a photo (`lineart`'s difference of Gaussians) give strokes, but seldom closed ones:
a cat's head has no dark line round it, only a change of color. A segmentation's borders are
closed by construction, so the page's outlines come from one, made with the color-by-number
machinery: the photo at the level's resolution, smoothed (bilateral, CIELAB), quantised to the
level's colors (each a JND from the others, so every border is a visible change of color or
shade), split into regions, and merged cheapest-first (least loss of color fidelity) until every
region holds a square of the level's size and its minimum area. Few colors and large squares for
`simple` (a child's page of a few dozen areas); many colors, small squares and a finer grid for
`expert`, whose borders follow the picture's shading and texture (fur, folds) into hundreds of
areas. No area is cut by a line the picture does not have. The label map is enlarged with smooth
borders and its borders are the outlines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.color import nearest_palette_index, palette_kmeans
from mosaic.imaging.merging import merge_cheapest_first, merge_specks, region_costs
from mosaic.imaging.regions import components
from mosaic.imaging.upsample import upsampled_labels

BILATERAL_DIAMETER_PX: Final = 5
BILATERAL_SIGMA_LAB: Final = 10.0  # ΔE across which colors still blend
BILATERAL_SIGMA_PX: Final = 2.0
ROUNDING_PASSES: Final = 2
# A palette of 5-12 colors for a coarse segmentation: 5,000 samples give the same mean error as
# 20,000 (ΔE76 7.01 vs 7.05 on the 12 MP coffee photo) at a quarter of the k-means time.
KMEANS_SAMPLES: Final = 5_000


@dataclass(frozen=True, slots=True)
class OutlineLevel:
    """How coarse one level's segmentation is."""

    colors: int  # quantisation colors of the segmentation
    square_mm: float  # every region holds a square this wide, clear of its borders
    dpi: int  # segmentation resolution: 50 dpi is ~0.2 MP for a Letter page
    bilateral_passes: int  # edge-preserving smoothing before quantising: texture flattened
    speck_mm2: float  # regions this small join a neighbour in one vectorised pass first


def segmentation(
    lab: NDArray[np.float32], level: OutlineLevel, *, seed: int, px_per_mm: float, area_min_mm2: float = 0.0
) -> NDArray[np.int32]:
    """(h, w) int32 regions of `lab` (h, w, 3) float32 CIELAB at `px_per_mm`, each 4-connected,
    none smaller than `area_min_mm2`."""
    smooth = np.ascontiguousarray(lab, dtype=np.float32)
    for _ in range(level.bilateral_passes):
        smooth = np.asarray(
            cv2.bilateralFilter(smooth, BILATERAL_DIAMETER_PX, BILATERAL_SIGMA_LAB, BILATERAL_SIGMA_PX),
            dtype=np.float32,
        )
    palette = palette_kmeans(
        smooth.reshape(-1, 3), colors=level.colors, seed=seed, samples_max=KMEANS_SAMPLES
    )
    labels, _ = components(nearest_palette_index(smooth, palette))
    cost = region_costs(labels, lab, palette, int(labels.max()) + 1)
    labels, cost = merge_specks(labels, cost, speck_px=max(2, round(level.speck_mm2 * px_per_mm**2)))
    half = max(1, round(level.square_mm * px_per_mm / 2.0))
    labels, _ = merge_cheapest_first(
        labels, cost, half_width_px=half, half_height_px=half, area_min_px=area_min_mm2 * px_per_mm**2
    )
    count = int(labels.max()) + 1
    for _ in range(ROUNDING_PASSES):  # a majority vote of blurred indicators rounds the borders
        labels = upsampled_labels(labels, count, width=labels.shape[1], height=labels.shape[0])
    return labels


def outline_borders(
    segmented: NDArray[np.int32],
    *,
    width: int,
    height: int,
    leave_out: NDArray[np.bool_] | None = None,
    leave_out_share: float = 0.5,
) -> NDArray[np.bool_]:
    """(height, width) bool: the borders of `segmented` enlarged smoothly to (height, width).

    A border between two regions that lies mostly (`leave_out_share` of its pixels or more) in
    `leave_out` (height, width) is left out whole; the others are kept whole, so no outline is
    cut short. For a face: the border of a shadow beside the nose goes, the hairline stays.
    """
    count = int(segmented.max()) + 1
    if count == 1:
        return np.zeros((height, width), dtype=bool)
    labels = upsampled_labels(segmented, count, width=width, height=height)
    if leave_out is None or not leave_out.any():
        return _borders(labels)
    return _borders_mostly_outside(labels, count, leave_out, leave_out_share)


def _borders(labels: NDArray[np.int32]) -> NDArray[np.bool_]:
    """(H, W) bool: pixels whose right or lower neighbour is of another region (a thin line)."""
    out = np.zeros(labels.shape, dtype=bool)
    out[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    out[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return out


def _borders_mostly_outside(
    labels: NDArray[np.int32], count: int, zone: NDArray[np.bool_], share: float
) -> NDArray[np.bool_]:
    """`_borders(labels)` without the borders between region pairs lying mostly in `zone`."""
    pair = np.full(labels.shape, -1, dtype=np.int64)  # each border pixel's pair, lower label first
    for neighbour in (labels[1:, :], labels[:, 1:]):  # vertical neighbour first, right one wins
        here = labels[: neighbour.shape[0], : neighbour.shape[1]]
        differs = here != neighbour
        low, high = np.minimum(here, neighbour), np.maximum(here, neighbour)
        pair[: neighbour.shape[0], : neighbour.shape[1]][differs] = (low * count + high)[differs]
    on_border = pair >= 0
    pairs, index = np.unique(pair[on_border], return_inverse=True)
    length = np.bincount(index, minlength=pairs.size)
    inside = np.bincount(index, weights=zone[on_border], minlength=pairs.size)
    kept = inside < share * length
    out = np.zeros(labels.shape, dtype=bool)
    out[on_border] = kept[index]
    return out
