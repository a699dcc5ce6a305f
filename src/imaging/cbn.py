"""Color by number: a photo → regions of exactly `colors` palette colors, each holding its number.

Pipeline: fit the photo into the art box; work at `WORK_DPI` (a 12 MP upload is reduced first);
smooth with an edge-preserving bilateral filter in CIELAB; choose the palette (seeded k-means++,
a JND apart); quantise; split into 4-connected regions; merge every region too small for its
number into its closest-colored neighbour; recolor regions and refit the palette to them (every
palette color kept in use where the picture allows); enlarge the label map to 300 dpi with
smooth borders; re-check connectivity and room at print resolution; place each number at its
region's pole of inaccessibility.
"""

from __future__ import annotations

from typing import Final, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.artwork import DPI, Artwork, Page
from mosaic.imaging.color import (
    JND_DELTA_E,
    delta_e_2000,
    lab_from_rgb,
    nearest_palette_index,
    palette_kmeans,
    rgb_u8_from_lab,
)
from mosaic.imaging.decode import placed_box, resize_rgb
from mosaic.imaging.placement import anchors_xy, number_room
from mosaic.imaging.regions import (
    border_mask,
    components,
    merge_until_fitting,
    region_stats,
    without_thin_parts,
)
from mosaic.imaging.upsample import split_pieces, upsampled_labels

Detail = Literal["simple", "standard", "detailed", "expert"]

COLORS_MIN: Final = 4
COLORS_MAX: Final = 20
NUMBER_SIZE_PT: Final[dict[Detail, float]] = {
    "simple": 10.0,
    "standard": 8.0,
    "detailed": 7.0,
    "expert": 6.0,
}
LINE_WIDTH_PT: Final[dict[Detail, float]] = {
    "simple": 1.0,
    "standard": 0.9,
    "detailed": 0.8,
    "expert": 0.75,
}
WORK_DPI: Final = 100  # segmentation resolution: 1/3 of print, ~0.6 MP for a Letter page
WORK_SAFETY_PX: Final = 0  # print resolution is re-checked; extra room here would over-merge
BILATERAL_PASSES: Final = 2
BILATERAL_DIAMETER_PX: Final = 7
BILATERAL_SIGMA_LAB: Final = 9.0  # ΔE across which colors still blend
BILATERAL_SIGMA_PX: Final = 3.0
REFIT_ROUNDS: Final = 3
SLIVER_SQUARE_PX: Final = 3  # at WORK_DPI: nothing narrower than 0.75 mm survives

assert min(LINE_WIDTH_PT.values()) >= 0.75
assert set(NUMBER_SIZE_PT) == set(LINE_WIDTH_PT)


def cbn_artwork(
    photo: NDArray[np.uint8],
    *,
    page: Page,
    colors: int,
    detail: Detail = "standard",
    seed: int = 0,
) -> Artwork:
    """A color-by-number `Artwork` (mode "cbn") of `photo`.

    Parameters
    ----------
    photo
        (H, W, 3) uint8 RGB, any size (e.g. from `decode_photo`); not modified.
    page
        The page layout; the art fills `placed_box(photo, page)`.
    colors
        Exactly this many palette colors, `COLORS_MIN`..`COLORS_MAX`.
    detail
        Sets the printed number size (`NUMBER_SIZE_PT`) and so the smallest region.
    seed
        Seeds the palette: the same photo, fields and seed give identical output.

    Returns
    -------
    Artwork
        `labels` at 300 dpi; palette colors in use come first, ordered dark to light; a palette
        color is unused only if the picture has fewer distinct areas than `colors`.
    """
    if not COLORS_MIN <= colors <= COLORS_MAX:
        raise ValueError(f"colors must be {COLORS_MIN}..{COLORS_MAX}, not {colors}")
    if detail not in NUMBER_SIZE_PT:
        raise ValueError(f"detail must be one of {', '.join(NUMBER_SIZE_PT)}, not {detail!r}")
    assert photo.ndim == 3 and photo.shape[2] == 3 and photo.dtype == np.uint8
    box = placed_box((photo.shape[0], photo.shape[1]), page)
    room = number_room(number_size_pt=NUMBER_SIZE_PT[detail], line_width_pt=LINE_WIDTH_PT[detail])
    work_room = room.at_dpi(WORK_DPI, safety_px=WORK_SAFETY_PX)
    work_lab = lab_from_rgb(
        resize_rgb(
            photo,
            width=max(1, round(box.width * WORK_DPI / DPI)),
            height=max(1, round(box.height * WORK_DPI / DPI)),
        )
    )
    smooth_lab = _smoothed(work_lab)
    palette = palette_kmeans(smooth_lab.reshape(-1, 3), colors=colors, seed=seed)
    index_map = nearest_palette_index(smooth_lab, palette)
    labels, region_color = components(without_thin_parts(index_map, square_px=SLIVER_SQUARE_PX))
    area, region_lab = region_stats(labels, work_lab, len(region_color))
    fitting = {"half_width_px": work_room.half_width_px, "half_height_px": work_room.half_height_px}
    labels, region_color, region_lab = merge_until_fitting(
        labels, region_color=region_color, region_lab=region_lab, **fitting
    )
    # Refit on pixels away from the borders: there resampling blends the neighbours' colors.
    area, inner_lab = region_stats(labels, work_lab, len(region_color), where=~border_mask(labels))
    region_color, palette = _refit_palette(inner_lab, area, palette, region_color)
    labels, region_color, region_lab = merge_until_fitting(
        labels, region_color=region_color, region_lab=region_lab, **fitting
    )
    pieces, origin = split_pieces(
        upsampled_labels(labels, len(region_color), width=box.width, height=box.height)
    )
    labels, region_color, region_lab = merge_until_fitting(
        pieces,
        region_color=region_color[origin],
        region_lab=region_lab[origin],
        half_width_px=room.half_width_px,
        half_height_px=room.half_height_px,
    )
    palette, region_color = _in_number_order(palette, region_color)
    return Artwork(
        mode="cbn",
        page=page,
        box=box,
        labels=labels,
        region_color=region_color.astype(np.int32),
        palette_rgb=rgb_u8_from_lab(palette),
        anchors_xy=anchors_xy(labels, len(region_color), room=room),
        number_size_pt=NUMBER_SIZE_PT[detail],
        line_width_pt=LINE_WIDTH_PT[detail],
    )


def _smoothed(lab: NDArray[np.float32]) -> NDArray[np.float32]:
    """Edge-preserving smoothing (bilateral, in CIELAB) of an (H, W, 3) float32 image."""
    out = np.ascontiguousarray(lab, dtype=np.float32)
    for _ in range(BILATERAL_PASSES):
        filtered = cv2.bilateralFilter(out, BILATERAL_DIAMETER_PX, BILATERAL_SIGMA_LAB, BILATERAL_SIGMA_PX)
        out = np.asarray(filtered, dtype=np.float32)
    return out


def _refit_palette(
    region_lab: NDArray[np.float64],
    area: NDArray[np.int64],
    palette: NDArray[np.float32],
    region_color: NDArray[np.int32],
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """Recolor each region with its nearest palette color and move each color to its regions' mean.

    A color no region uses any more takes over the region served worst by its current color (if
    that color keeps other regions), so every color stays in use where the picture allows. Moves
    that would bring two colors closer than `JND_DELTA_E` are not made.
    """
    palette = palette.astype(np.float32).copy()
    colors = len(palette)
    region_lab32 = region_lab.astype(np.float32)
    for _ in range(REFIT_ROUNDS):
        region_color = nearest_palette_index(region_lab32, palette)
        mass = np.bincount(region_color, weights=area, minlength=colors)
        for c in np.flatnonzero(mass > 0).tolist():
            mine = region_color == c
            mean = (region_lab32[mine] * area[mine, None]).sum(axis=0) / mass[c]
            if _far_from_others(mean, palette, c):
                palette[c] = mean
        for c in np.flatnonzero(mass == 0).tolist():
            users = np.bincount(region_color, minlength=colors)
            error = np.sum((region_lab32 - palette[region_color]) ** 2, axis=1) * area
            candidates = np.flatnonzero((users[region_color] >= 2) & (error > 0))
            for r in candidates[np.argsort(-error[candidates], kind="stable")].tolist():
                if _far_from_others(region_lab32[r], palette, c):
                    palette[c], region_color[r] = region_lab32[r], c
                    break
    return region_color.astype(np.int32), palette


def _far_from_others(color: NDArray[np.float32], palette: NDArray[np.float32], index: int) -> bool:
    others = np.delete(palette, index, axis=0)
    return len(others) == 0 or float(delta_e_2000(color[None, :], others).min()) >= JND_DELTA_E


def _in_number_order(
    palette: NDArray[np.float32], region_color: NDArray[np.int32]
) -> tuple[NDArray[np.float32], NDArray[np.int32]]:
    """Renumber the palette: colors in use first, each group dark to light (then by a, b)."""
    unused = np.bincount(region_color, minlength=len(palette)) == 0
    order = np.lexsort((palette[:, 2], palette[:, 1], palette[:, 0], unused))
    new_index = np.empty(len(palette), dtype=np.int32)
    new_index[order] = np.arange(len(palette), dtype=np.int32)
    return palette[order], new_index[region_color]
