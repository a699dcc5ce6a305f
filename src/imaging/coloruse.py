"""Which palette color each region (or cell) gets, and the order the colors are numbered in.

A palette color no region uses prints as a legend entry with nothing to color, so every color is
given to some region where the picture allows, and the colors in use are numbered first.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def every_color_used(region_cost: NDArray[np.float64]) -> NDArray[np.int32]:
    """Each region's cheapest palette color, every color in use where the picture allows.

    A color no region chooses takes over the region that loses least by switching to it, among
    regions whose color has other regions too; so a color stays unused only when there are fewer
    regions than colors.

    Parameters
    ----------
    region_cost
        (R, K) float64, R ≥ 1: the cost of painting each region in each palette color (e.g. its
        summed ΔE76); not modified.

    Returns
    -------
    NDArray[np.int32]
        (R,) palette index of each region; ties go to the lower index.
    """
    assert region_cost.ndim == 2 and region_cost.shape[0] >= 1 and region_cost.shape[1] >= 1
    count, colors = region_cost.shape
    region_color: NDArray[np.int32] = np.argmin(region_cost, axis=1).astype(np.int32)
    rows = np.arange(count)
    for c in range(colors):
        users = np.bincount(region_color, minlength=colors)
        if users[c] > 0:
            continue
        regret = region_cost[:, c] - region_cost[rows, region_color]
        candidates = np.flatnonzero(users[region_color] >= 2)
        if len(candidates) == 0:
            break
        region_color[candidates[np.argmin(regret[candidates])]] = c
    return region_color


def used_first(
    palette_lab: NDArray[np.float32], region_color: NDArray[np.int32]
) -> tuple[NDArray[np.float32], NDArray[np.int32]]:
    """Renumber the palette: colors in use first, each group dark to light (then by a, b).

    Parameters
    ----------
    palette_lab
        (K, 3) float32 CIELAB; not modified.
    region_color
        (R,) int32 palette index of each region; not modified.

    Returns
    -------
    tuple
        The reordered palette (K, 3) float32 and each region's index (R,) int32 into it.
    """
    assert palette_lab.ndim == 2 and palette_lab.shape[1] == 3
    unused = np.bincount(region_color, minlength=len(palette_lab)) == 0
    order = np.lexsort((palette_lab[:, 2], palette_lab[:, 1], palette_lab[:, 0], unused))
    new_index = np.empty(len(palette_lab), dtype=np.int32)
    new_index[order] = np.arange(len(palette_lab), dtype=np.int32)
    return palette_lab[order], new_index[region_color]
