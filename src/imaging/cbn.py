"""Color by number: a photo → regions of exactly `colors` palette colors, each holding its number.

Pipeline: fit the photo into the art box; work at `WORK_DPI` (a 12 MP upload is reduced first), or
at the photo's own resolution on the paper where that is lower (a poster of a 2 MP photo: enlarging
it first would only give the segmentation more pixels of the same detail);
smooth with an edge-preserving bilateral filter in CIELAB; choose the palette (seeded k-means++,
a JND apart); quantise; split into 4-connected regions; merge every region too small for its
number into the neighbour that costs the least color fidelity (`merging`), each region taking
the palette color that serves its pixels best; open away slivers; move the palette colors to
their regions' medians (every color kept in use where the picture allows); enlarge the label map
to 300 dpi with smooth borders; re-check connectivity and room at print resolution; place each
number at its region's pole of inaccessibility.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray
from skimage.segmentation import watershed

from mosaic.imaging.artwork import DPI, MM_PER_INCH, Artwork, Page, mm_from_px
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
from mosaic.imaging.faces import features_mask, find_faces
from mosaic.imaging.merging import Ciede2000Costs, merge_cheapest_first, merge_specks
from mosaic.imaging.options import Detail
from mosaic.imaging.paintpick import paints_lab, pick_paints
from mosaic.imaging.palettes import Paint
from mosaic.imaging.placement import NumberRoom, number_room
from mosaic.imaging.regions import (
    border_mask,
    components,
    holds_box,
    merge_until_fitting,
    region_stats,
    without_thin_parts,
)
from mosaic.imaging.upsample import split_pieces, split_regions, upsampled_labels

COLORS_MIN: Final = 4
COLORS_MAX: Final = 20


@dataclass(frozen=True, slots=True)
class CbnLevel:
    """How one `detail` level segments: sizes on paper, at the level's print size."""

    number_size_pt: float
    line_width_pt: float
    area_min_mm2: float  # no region is smaller, whatever the number needs
    face_area_min_mm2: float  # the same inside a face's features (eyes, brows, nose, lips)
    cell_mm: float  # areas of one color are cut into cells about this wide (0: never cut)
    bilateral_passes: int  # edge-preserving smoothing: texture flattened before quantising
    band_mm2: float = 0.0  # a shaded area is cut along its shading into bands of about this area
    band_delta_l: float = 0.0  # ... one band for each this much lightness it spans (CIELAB L*)

    @property
    def cuts(self) -> bool:
        """Whether areas of one color are cut (then same-color neighbours stay apart)."""
        return self.cell_mm > 0 or self.band_mm2 > 0


# A Letter art box is about 37,000 mm²: `simple` leaves a child a few dozen large areas;
# `standard` cuts a shaded area only along its shading (bands between iso-lightness lines, which
# read as the picture's light); `detailed` and `expert` cut into cells of a few square
# centimetres, each still holding its 6-7 pt number.
LEVELS: Final[dict[Detail, CbnLevel]] = {
    "simple": CbnLevel(10.0, 1.0, 150.0, 150.0, 0.0, 2),
    "standard": CbnLevel(8.0, 0.9, 20.0, 8.0, 0.0, 2, band_mm2=32.0, band_delta_l=2.5),
    "detailed": CbnLevel(7.0, 0.8, 15.0, 6.0, 8.5, 1),
    "expert": CbnLevel(6.0, 0.75, 8.0, 4.0, 4.7, 1),
}
NUMBER_SIZE_PT: Final[dict[Detail, float]] = {name: level.number_size_pt for name, level in LEVELS.items()}
LINE_WIDTH_PT: Final[dict[Detail, float]] = {name: level.line_width_pt for name, level in LEVELS.items()}
WORK_DPI: Final = 100  # segmentation resolution: 1/3 of print, ~0.6 MP for a Letter page
WORK_DPI_MIN: Final = 40  # a thumbnail is still enlarged to this: a number's room stays several pixels
WORK_SAFETY_PX: Final = 0  # print resolution is re-checked; extra room here would over-merge
BILATERAL_DIAMETER_PX: Final = 7
BILATERAL_SIGMA_LAB: Final = 9.0  # ΔE across which colors still blend
BILATERAL_SIGMA_PX: Final = 3.0
CELL_GRADIENT_SIGMA_PX: Final = 1.5  # cells follow the shading of the colors blurred this much
HEX_ROW_STEP: Final = math.sqrt(3) / 2  # rows of a hexagonal grid, in its column step
CELL_COMPACTNESS: Final = 3.0  # compact watershed: cells stay round where the picture is flat
CUT_DELTA_E_MIN: Final = 0.75  # areas whose pixels are this close (mean ΔE76) to their color stay whole
CELL_JITTER: Final = 0.15  # seeds move up to this share of a step: cells look drawn, not tiled
BAND_SIGMA_MM: Final = 1.5  # bands follow the lightness blurred this much: no line along grain, few crumbs
BAND_RANGE_QUANTILES: Final = (0.05, 0.95)  # an area's lightness span, a stray pixel aside
BAND_SPECK_MM2: Final = 8.0  # band pieces this small cannot hold an 8 pt number anyway
FACE_MM_MIN: Final = 25.0  # faces narrower than this on paper are segmented like anything else
FACE_PALETTE_WEIGHT: Final = 6.0  # a face's pixels count this much more in choosing the palette
# A face's features (eyes, brows, nostrils, lips, the main shadows), found in its smoothed colors
# blurred this much: skin shading stays below the thresholds that follow.
FEATURE_BLUR_MM: Final = 0.4
FEATURE_DELTA_E: Final = 18.0  # eyes, brows, nostrils, a mouth's corners; a cheek's shadow stays below
FEATURE_REDDER_A: Final = 6.0  # lips: this much redder (CIELAB a*) than the face's median
FEATURE_CLOSE_MM: Final = 1.2  # an eye's lashes, iris and lid, this close, are one feature
FEATURE_GROW_MM: Final = 1.6  # a feature too small for its number takes in the skin round it, up to this
REFIT_ROUNDS: Final = 4  # palette moves and recolorings alternate; 2 stopped short of settling
SPECK_MM2: Final = 1.9  # regions this small (30 px at 100 dpi) join a neighbour in one vectorised pass
WEISZFELD_EPSILON_LAB: Final = 0.5  # a pixel this close to its color weighs as if this far
SLIVER_MM: Final = 0.76  # at work resolution nothing narrower survives (3 px at 100 dpi)
PRINT_SLIVER_SQUARE_PX: Final = 3  # at 300 dpi: nor a tail narrower than 0.25 mm after enlarging

_CROSS_3: Final = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))

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
    level = LEVELS[detail]
    box = placed_box((photo.shape[0], photo.shape[1]), page)
    room = number_room(number_size_pt=level.number_size_pt, line_width_pt=level.line_width_pt)
    work_dpi = segmentation_dpi(photo.shape[1], box.width)
    work_room = _work_room(room, work_dpi)
    work_w, work_h = max(1, round(box.width * work_dpi / DPI)), max(1, round(box.height * work_dpi / DPI))
    work_lab = lab_from_rgb(resize_rgb(photo, width=work_w, height=work_h))
    smooth_lab = _smoothed(work_lab, passes=level.bilateral_passes)
    face_mm_share = FACE_MM_MIN / mm_from_px(max(box.width, box.height))
    features = features_mask(find_faces(photo, min_share=face_mm_share), width=work_w, height=work_h)
    # Detail goes where the eye looks: a face weighs more in the palette, so its lips, eye
    # sockets and shading get colors of their own rather than the skin's one or two.
    weights = np.where(features, np.float32(FACE_PALETTE_WEIGHT), np.float32(1.0)).reshape(-1)
    samples = smooth_lab.reshape(-1, 3)
    chosen = None if paints is None else pick_paints(samples, paints, colors=colors, seed=seed)
    if chosen is None:
        palette = palette_kmeans(samples, colors=colors, seed=seed, weights=weights)
    else:
        palette = paints_lab(chosen)
    index_map = nearest_palette_index(smooth_lab, palette)
    labels, _ = components(index_map)
    px_per_mm = work_dpi / MM_PER_INCH
    px_per_mm2 = px_per_mm**2
    area_min = np.where(features, level.face_area_min_mm2, level.area_min_mm2).astype(np.float32)
    area_min *= np.float32(px_per_mm2)
    # Costs in CIEDE2000, the measure a page's fidelity is judged by: ΔE76 weighs a saturated
    # color's differences of chroma and hue 2-3x more than CIEDE2000 does, against lightness.
    costs = Ciede2000Costs(work_lab)
    cost = costs(labels, palette, int(labels.max()) + 1)
    labels, cost = merge_specks(labels, cost, speck_px=max(1, round(SPECK_MM2 * px_per_mm2)))
    fitting = partial(
        merge_cheapest_first,
        half_width_px=work_room.half_width_px,
        half_height_px=work_room.half_height_px,
        area_min_px=area_min,
    )
    labels, cost = fitting(labels, cost)
    # No slivers: thin tails go to their neighbours; a region cut in two at a neck is two regions.
    labels, _ = split_pieces(without_thin_parts(labels, square_px=max(2, round(SLIVER_MM * px_per_mm))))
    cost = costs(labels, palette, int(labels.max()) + 1)
    labels, cost = fitting(labels, cost)
    if level.cuts and bool(features.any()):
        # A face's eyes, lips and shadows would each be merged into the skin round them, being
        # too small for a number: each is drawn as a region of its own, grown to hold one.
        # (a pixel to spare each way: at print resolution smooth borders trim an almond's tips)
        spare = NumberRoom(work_room.half_width_px + 1, work_room.half_height_px + 1)
        blobs = _feature_blobs(smooth_lab, features, room=spare, px_per_mm=px_per_mm)
        labels, _ = split_pieces(np.where(blobs > 0, int(labels.max()) + blobs, labels).astype(np.int32))
        cost = costs(labels, palette, int(labels.max()) + 1)
        labels, cost = fitting(labels, cost)
    if level.band_mm2 > 0:
        # A shaded area is cut along its shading, so its regions draw the light rather than a
        # grid; each band then takes the palette color that serves its pixels best.
        bands = _shading_bands(
            labels,
            work_lab,
            band_px=level.band_mm2 * px_per_mm2,
            delta_l=level.band_delta_l,
            sigma_px=BAND_SIGMA_MM * px_per_mm,
        )
        labels, cost = _cut_shaded(
            labels, cost, bands, work_lab=work_lab, palette=palette, features=features, costs=costs
        )
        # In grain a band breaks into crumbs: they rejoin a band at once, not one by one.
        labels, cost = merge_specks(
            labels, cost, speck_px=max(1, round(BAND_SPECK_MM2 * px_per_mm2)), same_color=True
        )
        labels, cost = fitting(labels, cost)
    if level.cell_mm > 0:
        # Large areas of one color are cut into cells; a cell too small for its number joins a
        # neighbour, of its own color first (that costs no fidelity).
        cells = _cells(smooth_lab, spacing_px=level.cell_mm * px_per_mm, seed=seed)
        labels, cost = _cut_shaded(
            labels, cost, cells, work_lab=work_lab, palette=palette, features=features, costs=costs
        )
        labels, cost = fitting(labels, cost)
    region_color = every_color_used(cost)
    for _ in range(REFIT_ROUNDS if chosen is None else 0):  # a paint's color is what it is
        palette = _refit_palette(labels, work_lab, palette, region_color, costs)
        region_color = every_color_used(costs(labels, palette, len(region_color)))
    _, region_lab = region_stats(labels, work_lab, len(region_color))
    # Smooth borders can meet at a narrow angle (two cells and a color edge): opened again at
    # print resolution, so no tail thinner than a line's width is left to color.
    # One print-size map (a poster's is 200 MB), opened, split and merged in place.
    opened = without_thin_parts(
        upsampled_labels(labels, len(region_color), width=box.width, height=box.height),
        square_px=PRINT_SLIVER_SQUARE_PX,
        in_place=True,
    )
    pieces = split_regions(opened, len(region_color), in_place=True)
    del opened
    labels, region_color, region_lab, anchors = merge_until_fitting(
        pieces.labels,
        region_color=region_color[pieces.origin],
        region_lab=region_lab[pieces.origin],
        bounds=pieces.bounds,
        area=pieces.area,
        half_width_px=room.half_width_px,
        half_height_px=room.half_height_px,
        join_same_color=not level.cuts,
        in_place=True,
    )
    assert not bool(np.isnan(anchors).any()), "a region cannot hold its number"
    if chosen is None:
        palette, region_color = used_first(palette, region_color)
    return Artwork(
        mode="cbn",
        page=page,
        box=box,
        labels=labels,
        region_color=region_color.astype(np.int32),
        palette_rgb=_palette_rgb(palette, chosen),
        anchors_xy=anchors,
        number_size_pt=level.number_size_pt,
        line_width_pt=level.line_width_pt,
        paints=chosen,
    )


def segmentation_dpi(photo_width_px: int, box_width_px: int) -> int:
    """The segmentation resolution: `WORK_DPI`, or the photo's own on the paper where that is
    lower (never below `WORK_DPI_MIN`). Every pixel size of the segmentation follows it; the
    rules are re-checked at print resolution either way."""
    photo_dpi = photo_width_px * DPI / box_width_px
    return max(WORK_DPI_MIN, min(WORK_DPI, math.floor(photo_dpi)))


def _work_room(room: NumberRoom, work_dpi: int) -> NumberRoom:
    """The number's room in work pixels. Below `WORK_DPI` a pixel is a large share of it: the
    nearest count would make the box (2·half + 1 pixels) up to a third larger than on paper and
    merge away cells that hold their number at print size, so there the box is the largest that
    fits inside the printed one (print resolution re-checks every region either way)."""
    if work_dpi >= WORK_DPI:
        return room.at_dpi(work_dpi, safety_px=WORK_SAFETY_PX)
    scale = work_dpi / DPI
    return NumberRoom(
        *(max(1, math.floor(((2 * half + 1) * scale - 1) / 2)) + WORK_SAFETY_PX
          for half in (room.half_width_px, room.half_height_px))
    )


def _palette_rgb(palette: NDArray[np.float32], chosen: tuple[Paint, ...] | None) -> NDArray[np.uint8]:
    """The palette in sRGB: the paints' own values (not a round trip through CIELAB) where given."""
    if chosen is None:
        return rgb_u8_from_lab(palette)
    return np.array([p.rgb for p in chosen], dtype=np.uint8).reshape(-1, 3)


def _smoothed(lab: NDArray[np.float32], *, passes: int) -> NDArray[np.float32]:
    """Edge-preserving smoothing (bilateral, in CIELAB) of an (H, W, 3) float32 image."""
    out = np.ascontiguousarray(lab, dtype=np.float32)
    for _ in range(passes):
        filtered = cv2.bilateralFilter(out, BILATERAL_DIAMETER_PX, BILATERAL_SIGMA_LAB, BILATERAL_SIGMA_PX)
        out = np.asarray(filtered, dtype=np.float32)
    return out


def _feature_blobs(
    lab: NDArray[np.float32], features: NDArray[np.bool_], *, room: NumberRoom, px_per_mm: float
) -> NDArray[np.int32]:
    """(H, W) int32: 1..k on a face's features that can hold a number of `room`, 0 elsewhere.

    Features are the pieces of `_feature_cores`. One too small for its number grows a pixel at a
    time into the pixels round it, up to `FEATURE_GROW_MM` (an eye takes its lids, as a drawing
    would); one that still cannot hold it is left to the skin. Larger features claim first, so
    two never overlap.
    """
    out = np.zeros(features.shape, dtype=np.int32)
    rows, cols = np.nonzero(features)
    grow_px = max(1, round(FEATURE_GROW_MM * px_per_mm))
    y0, y1 = max(0, int(rows.min()) - grow_px), min(features.shape[0], int(rows.max()) + grow_px + 1)
    x0, x1 = max(0, int(cols.min()) - grow_px), min(features.shape[1], int(cols.max()) + grow_px + 1)
    cores = _feature_cores(lab[y0:y1, x0:x1], features[y0:y1, x0:x1], px_per_mm=px_per_mm)
    count, pieces, stats, _ = cv2.connectedComponentsWithStats(cores, connectivity=4)
    free = np.ones(cores.shape, dtype=np.uint8)
    whole = np.array([0, cores.shape[0], 0, cores.shape[1]], dtype=np.int64)
    hw, hh = room.half_width_px, room.half_height_px
    kept = 0
    for piece in sorted(range(1, count), key=lambda p: (-int(stats[p, cv2.CC_STAT_AREA]), p)):
        blob = np.equal(pieces, piece).view(np.uint8) & free
        for _ in range(grow_px + 1):
            if holds_box(blob.astype(np.int32), whole, 1, half_width_px=hw, half_height_px=hh):
                kept += 1
                out[y0:y1, x0:x1][blob > 0] = kept
                free &= 1 - blob
                break
            blob = np.asarray(cv2.dilate(blob, _CROSS_3), dtype=np.uint8) & free
    return out


def _feature_cores(
    lab: NDArray[np.float32], face: NDArray[np.bool_], *, px_per_mm: float
) -> NDArray[np.uint8]:
    """0/1 (H, W) uint8: where, within `face`, the colors blurred `FEATURE_BLUR_MM` stand
    `FEATURE_DELTA_E` from the face's median or are `FEATURE_REDDER_A` redder (lips), gaps of
    `FEATURE_CLOSE_MM` closed (an eye's lashes, iris and lid are one feature)."""
    median = np.median(lab[face], axis=0).astype(np.float32)
    sigma = FEATURE_BLUR_MM * px_per_mm
    distance = np.linalg.norm(lab - median, axis=2).astype(np.float32)
    far = np.asarray(cv2.GaussianBlur(distance, (0, 0), sigma), dtype=np.float32) > FEATURE_DELTA_E
    redness = np.ascontiguousarray(lab[..., 1] - median[1], dtype=np.float32)
    redder = np.asarray(cv2.GaussianBlur(redness, (0, 0), sigma), dtype=np.float32) > FEATURE_REDDER_A
    side = max(3, round(FEATURE_CLOSE_MM * px_per_mm) | 1)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    closed = cv2.morphologyEx(((far | redder) & face).view(np.uint8), cv2.MORPH_CLOSE, disc)
    return np.asarray(closed, dtype=np.uint8) & face.view(np.uint8)


def _flat_regions(
    labels: NDArray[np.int32], lab: NDArray[np.float32], region_lab: NDArray[np.float32]
) -> NDArray[np.bool_]:
    """(R,) bool: regions whose pixels, away from their borders, are within `CUT_DELTA_E_MIN` of
    their color on average (the blend of two flat colors along a border does not count)."""
    count = len(region_lab)
    flat_labels = labels.reshape(-1)
    error = np.linalg.norm(lab.reshape(-1, 3) - region_lab[flat_labels], axis=1)
    near_border = cv2.dilate(border_mask(labels).astype(np.uint8), np.ones((5, 5), np.uint8))
    inner = near_border.reshape(-1) == 0
    pixels = np.bincount(flat_labels[inner], minlength=count)
    summed = np.bincount(flat_labels[inner], weights=error[inner], minlength=count)
    flat: NDArray[np.bool_] = summed < CUT_DELTA_E_MIN * np.maximum(pixels, 1)
    return flat


def _cut_shaded(
    labels: NDArray[np.int32],
    cost: NDArray[np.float64],
    pieces: NDArray[np.int32],
    *,
    work_lab: NDArray[np.float32],
    palette: NDArray[np.float32],
    features: NDArray[np.bool_],
    costs: Ciede2000Costs,
) -> tuple[NDArray[np.int32], NDArray[np.float64]]:
    """Cut each region along `pieces` (H, W) int32 ≥ 0, except flat ones and those in a face.

    Only areas that shade are cut: a flat one (a logo's, a stripe's) has nothing to show in more
    regions. Nor is a region reaching into a face's features: no line across a lip.
    Returns the new labels and their cost vectors (pieces too small are left to the caller).
    """
    flat = _flat_regions(labels, work_lab, palette[np.argmin(cost, axis=1)])
    touching = np.bincount(labels[features], minlength=len(cost)) > 0
    pieces = np.where((flat | touching)[labels], 0, pieces).astype(np.int32)
    labels, _ = split_pieces(labels * (int(pieces.max()) + 1) + pieces)
    return labels, costs(labels, palette, int(labels.max()) + 1)


def _shading_bands(
    labels: NDArray[np.int32], lab: NDArray[np.float32], *, band_px: float, delta_l: float, sigma_px: float
) -> NDArray[np.int32]:
    """(H, W) int32 band 1..k of each pixel within its region, cut along iso-lightness lines.

    A region spanning more lightness (`BAND_RANGE_QUANTILES` of its blurred L*) than `delta_l`
    is split into that many bands of equal area, as many as it has room for at `band_px` each
    (k = 1 leaves it whole): the bands are the region's pixels ranked by their lightness, so
    their borders follow the shading wherever it goes and never form a grid.
    """
    lightness = np.ascontiguousarray(lab[..., 0], dtype=np.float32)
    blurred = np.asarray(cv2.GaussianBlur(lightness, (0, 0), sigma_px), dtype=np.float32).reshape(-1)
    flat = labels.reshape(-1)
    count = int(flat.max()) + 1
    order = np.lexsort((np.arange(flat.shape[0]), blurred, flat))  # ties in scan order: deterministic
    area = np.bincount(flat, minlength=count).astype(np.int64)
    start = np.concatenate([np.zeros(1, np.int64), np.cumsum(area)[:-1]])
    rank = np.empty(flat.shape[0], dtype=np.int64)
    rank[order] = np.arange(flat.shape[0], dtype=np.int64) - start[flat[order]]
    ordered = blurred[order]
    low_q, high_q = BAND_RANGE_QUANTILES
    last = start + np.maximum(area, 1) - 1
    low = ordered[np.minimum(start + (area * low_q).astype(np.int64), last)]
    high = ordered[np.minimum(start + (area * high_q).astype(np.int64), last)]
    by_light = np.ceil((high - low) / np.float32(delta_l))
    bands = np.minimum(by_light, np.floor(area / band_px)).clip(1, None).astype(np.int64)
    band = (rank * bands[flat]) // np.maximum(area[flat], 1)
    out: NDArray[np.int32] = (band + 1).astype(np.int32).reshape(labels.shape)
    return out


def _cells(lab: NDArray[np.float32], *, spacing_px: float, seed: int) -> NDArray[np.int32]:
    """(H, W) int32 cells 1..N about `spacing_px` wide, whose borders follow the shading.

    A compact watershed of the color gradient from a jittered hexagonal grid of seeds: where the
    picture is flat the cells are round, where it shades they bend along the shading. Cutting
    each color's areas along them gives a fine page many regions without inventing colors.
    """
    height, width = lab.shape[:2]
    blurred = cv2.GaussianBlur(lab, (0, 0), CELL_GRADIENT_SIGMA_PX)
    gradient = np.zeros((height, width), dtype=np.float32)
    for axis in ((1, 0), (0, 1)):
        derivative = np.asarray(cv2.Sobel(blurred, cv2.CV_32F, *axis), dtype=np.float32)
        gradient += (derivative * derivative).sum(axis=2)
    step_x, step_y = max(2.0, spacing_px), max(2.0, spacing_px * HEX_ROW_STEP)
    ys, xs = np.mgrid[step_y / 2 : height : step_y, step_x / 2 : width + step_x / 2 : step_x]
    xs = xs - (step_x / 2) * (np.arange(ys.shape[0])[:, None] % 2)  # every other row half a step
    rng = np.random.default_rng(seed)
    ys = ys + rng.uniform(-CELL_JITTER, CELL_JITTER, ys.shape) * step_y
    xs = xs + rng.uniform(-CELL_JITTER, CELL_JITTER, xs.shape) * step_x
    rows = np.clip(np.round(ys), 0, height - 1).astype(np.int64).reshape(-1)
    cols = np.clip(np.round(xs), 0, width - 1).astype(np.int64).reshape(-1)
    seeds = np.zeros((height, width), dtype=np.int32)
    seeds[rows, cols] = np.arange(1, len(rows) + 1, dtype=np.int32)
    found = watershed(np.sqrt(gradient), seeds, compactness=CELL_COMPACTNESS)  # type: ignore[no-untyped-call]
    cells: NDArray[np.int32] = np.asarray(found, dtype=np.int32)
    return cells


def _refit_palette(
    labels: NDArray[np.int32],
    image_lab: NDArray[np.float32],
    palette: NDArray[np.float32],
    region_color: NDArray[np.int32],
    costs: Ciede2000Costs,
) -> NDArray[np.float32]:
    """Move each color toward the geometric median of its regions' pixels (one Weiszfeld step).

    The median in CIELAB (a mean would be pulled by the pixels at borders and in texture) is a
    step toward the color of least summed CIEDE2000; a move is kept only if it lowers that sum,
    which the merge optimised, and keeps the color a JND from the others. Flat art gets its
    exact colors back.
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
    before = np.bincount(pixel_color, weights=costs.pixel_distances(palette, pixel_color), minlength=colors)
    after = np.bincount(
        pixel_color, weights=costs.pixel_distances(moved.astype(np.float32), pixel_color), minlength=colors
    )
    out = palette.astype(np.float32).copy()
    for c in np.flatnonzero((mass > 0) & (after < before)).tolist():
        candidate = moved[c].astype(np.float32)
        others = np.delete(out, c, axis=0)
        if len(others) == 0 or float(delta_e_2000(candidate[None, :], others).min()) >= JND_DELTA_E:
            out[c] = candidate
    return out
