"""Color by number: a photo → regions of exactly `colors` palette colors, each holding its number.

Pipeline: fit the photo into the art box; work at `WORK_DPI` (a 12 MP upload is reduced first);
smooth with an edge-preserving bilateral filter in CIELAB; choose the palette (seeded k-means++,
a JND apart); quantise; split into 4-connected regions; merge every region too small for its
number into the neighbour that costs the least color fidelity (`merging`), each region taking
the palette color that serves its pixels best; open away slivers; move the palette colors to
their regions' medians (every color kept in use where the picture allows); enlarge the label map
to 300 dpi with smooth borders; re-check connectivity and room at print resolution; place each
number at its region's pole of inaccessibility.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

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
from mosaic.imaging.coloruse import every_color_used, used_first
from mosaic.imaging.decode import placed_box, resize_rgb
from mosaic.imaging.merging import merge_cheapest_first, merge_specks, region_costs
from mosaic.imaging.options import Detail
from mosaic.imaging.paintpick import paints_lab, pick_paints
from mosaic.imaging.palettes import Paint
from mosaic.imaging.placement import anchors_xy, number_room
from mosaic.imaging.regions import components, merge_until_fitting, region_stats, without_thin_parts
from mosaic.imaging.upsample import split_pieces, upsampled_labels

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
REFIT_ROUNDS: Final = 2
SPECK_PX: Final = 30  # at WORK_DPI: regions this small join a neighbour in one vectorised pass
WEISZFELD_EPSILON_LAB: Final = 0.5  # a pixel this close to its color weighs as if this far
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
    paints: Sequence[Paint] | None = None,
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
    paints
        A paint set to color with: the `colors` paints of it that best render the photo are
        used as they are (never moved toward the photo), in set-number order.

    Returns
    -------
    Artwork
        `labels` at 300 dpi; palette colors in use come first, ordered dark to light (with
        `paints`, in set-number order); a palette color is unused only if the picture has fewer
        distinct areas than `colors`.
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
    samples = smooth_lab.reshape(-1, 3)
    chosen = None if paints is None else pick_paints(samples, paints, colors=colors, seed=seed)
    palette = palette_kmeans(samples, colors=colors, seed=seed) if chosen is None else paints_lab(chosen)
    labels, _ = components(nearest_palette_index(smooth_lab, palette))
    cost = region_costs(labels, work_lab, palette, int(labels.max()) + 1)
    labels, cost = merge_specks(labels, cost, speck_px=SPECK_PX)
    fitting = {"half_width_px": work_room.half_width_px, "half_height_px": work_room.half_height_px}
    labels, cost = merge_cheapest_first(labels, cost, **fitting)
    # No slivers: thin tails go to their neighbours; a region cut in two at a neck is two regions.
    labels, _ = split_pieces(without_thin_parts(labels, square_px=SLIVER_SQUARE_PX))
    cost = region_costs(labels, work_lab, palette, int(labels.max()) + 1)
    labels, cost = merge_cheapest_first(labels, cost, **fitting)
    region_color = every_color_used(cost)
    for _ in range(REFIT_ROUNDS if chosen is None else 0):  # a paint's color is what it is
        palette = _refit_palette(labels, work_lab, palette, region_color)
        region_color = every_color_used(region_costs(labels, work_lab, palette, len(region_color)))
    _, region_lab = region_stats(labels, work_lab, len(region_color))
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
    if chosen is None:
        palette, region_color = used_first(palette, region_color)
    return Artwork(
        mode="cbn",
        page=page,
        box=box,
        labels=labels,
        region_color=region_color.astype(np.int32),
        palette_rgb=_palette_rgb(palette, chosen),
        anchors_xy=anchors_xy(labels, len(region_color), room=room),
        number_size_pt=NUMBER_SIZE_PT[detail],
        line_width_pt=LINE_WIDTH_PT[detail],
        paints=chosen,
    )


def _palette_rgb(palette: NDArray[np.float32], chosen: tuple[Paint, ...] | None) -> NDArray[np.uint8]:
    """The palette in sRGB: the paints' own values (not a round trip through CIELAB) where given."""
    if chosen is None:
        return rgb_u8_from_lab(palette)
    return np.array([p.rgb for p in chosen], dtype=np.uint8).reshape(-1, 3)


def _smoothed(lab: NDArray[np.float32]) -> NDArray[np.float32]:
    """Edge-preserving smoothing (bilateral, in CIELAB) of an (H, W, 3) float32 image."""
    out = np.ascontiguousarray(lab, dtype=np.float32)
    for _ in range(BILATERAL_PASSES):
        filtered = cv2.bilateralFilter(out, BILATERAL_DIAMETER_PX, BILATERAL_SIGMA_LAB, BILATERAL_SIGMA_PX)
        out = np.asarray(filtered, dtype=np.float32)
    return out


def _refit_palette(
    labels: NDArray[np.int32],
    image_lab: NDArray[np.float32],
    palette: NDArray[np.float32],
    region_color: NDArray[np.int32],
) -> NDArray[np.float32]:
    """Move each color toward the geometric median of its regions' pixels (one Weiszfeld step).

    The median minimises the summed ΔE76 the merge optimised (a mean would be pulled by the
    pixels at borders and in texture). A move is kept only if it lowers that sum and keeps the
    color a JND from the others. Flat art gets its exact colors back.
    """
    pixel_color = region_color[labels].reshape(-1)
    pixels = image_lab.reshape(-1, 3).astype(np.float64)
    colors = len(palette)
    distance = np.linalg.norm(pixels - palette[pixel_color], axis=1)
    weight = 1.0 / np.maximum(distance, WEISZFELD_EPSILON_LAB)
    mass = np.bincount(pixel_color, weights=weight, minlength=colors)
    moved = np.stack(
        [np.bincount(pixel_color, weights=weight * pixels[:, c], minlength=colors) for c in range(3)], axis=1
    ) / np.maximum(mass, 1e-12)[:, None]
    moved_distance = np.linalg.norm(pixels - moved[pixel_color], axis=1)
    before = np.bincount(pixel_color, weights=distance, minlength=colors)
    after = np.bincount(pixel_color, weights=moved_distance, minlength=colors)
    out = palette.astype(np.float32).copy()
    for c in np.flatnonzero((mass > 0) & (after < before)).tolist():
        candidate = moved[c].astype(np.float32)
        others = np.delete(out, c, axis=0)
        if len(others) == 0 or float(delta_e_2000(candidate[None, :], others).min()) >= JND_DELTA_E:
            out[c] = candidate
    return out
