"""How faithful a colored page is to its photo: mean CIEDE2000, and the plain k-means baseline.

The benchmark compares `cbn`'s answer with the best a palette alone can do: every pixel painted
with its nearest k-means color, no regions, no numbers. The gap is the cost of legibility.
"""

from __future__ import annotations

from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.artwork import Artwork
from mosaic.imaging.color import (
    delta_e_2000,
    lab_from_rgb,
    nearest_palette_index,
    palette_kmeans,
    rgb_u8_from_lab,
)
from mosaic.imaging.decode import resize_rgb

DELTA_E_CHUNK_PIXELS: Final = 1 << 18  # bounds the float64 temporaries of CIEDE2000


def mean_delta_e(answer_rgb: NDArray[np.uint8], photo_rgb: NDArray[np.uint8]) -> float:
    """Mean CIEDE2000 between two (H, W, 3) uint8 RGB images of any sizes.

    The photo is resampled (area / Lanczos) to the answer's size first. Computed in chunks, so
    a 300 dpi page costs a few tens of MB at most.
    """
    assert answer_rgb.ndim == 3 and answer_rgb.shape[2] == 3 and answer_rgb.dtype == np.uint8
    height, width = answer_rgb.shape[:2]
    photo = resize_rgb(photo_rgb, width=width, height=height)
    answer_flat = answer_rgb.reshape(-1, 3)
    photo_flat = photo.reshape(-1, 3)
    total = 0.0
    for start in range(0, answer_flat.shape[0], DELTA_E_CHUNK_PIXELS):
        stop = start + DELTA_E_CHUNK_PIXELS
        differences = delta_e_2000(
            lab_from_rgb(answer_flat[start:stop]), lab_from_rgb(photo_flat[start:stop])
        )
        total += float(differences.sum(dtype=np.float64))
    return total / max(1, answer_flat.shape[0])


def answer_rgb(artwork: Artwork) -> NDArray[np.uint8]:
    """(H, W, 3) uint8: every region of `artwork` filled with its palette color, no lines."""
    out: NDArray[np.uint8] = artwork.palette_rgb[artwork.region_color[artwork.labels]]
    return out


def kmeans_baseline_rgb(
    photo_rgb: NDArray[np.uint8],
    *,
    colors: int,
    seed: int,
    width: int,
    height: int,
    blur_sigma_px: float = 0.0,
) -> NDArray[np.uint8]:
    """(height, width, 3) uint8: the photo resampled, each pixel its nearest k-means color.

    With `blur_sigma_px` > 0 each pixel takes the color nearest its Gaussian-weighted
    neighbourhood instead (same palette): what any page loses that cannot show detail finer than
    about that radius, however its regions are drawn. The benchmark prints it as a bound.
    """
    photo_lab = lab_from_rgb(resize_rgb(photo_rgb, width=width, height=height))
    palette = palette_kmeans(photo_lab.reshape(-1, 3), colors=colors, seed=seed)
    if blur_sigma_px > 0:
        photo_lab = np.asarray(cv2.GaussianBlur(photo_lab, (0, 0), blur_sigma_px), dtype=np.float32)
    return rgb_u8_from_lab(palette)[nearest_palette_index(photo_lab, palette)]
