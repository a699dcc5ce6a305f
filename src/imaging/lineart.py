"""Coloring pages: a photo's outlines as clean, closed strokes, and the regions between them.

Outlines: the borders of a coarse, edge-preserving segmentation (`lineoutlines`), closed by
construction, fewer and larger regions at lower detail. Edges add the interior detail the
segmentation misses (eyes, mouth, whiskers): strokes off the outlines, long enough to matter.
Edges: the photo's lightness at `WORK_DPI` is smoothed with a bilateral filter (edges kept, texture
flattened), then a difference of Gaussians (the core of XDoG) marks the dark side of every edge
and every thin dark feature (eyes, mouth, hair lines), kept by hysteresis: strong responses, and
weak ones connected to them. Cleanup (`strokes`): thinning, spur pruning, gap closing, fragment
removal; the skeleton is then redrawn at 300 dpi at the level's line weight and no ink speck under
`INK_SPECK_MM2` survives. Regions are the connected pieces of paper between the lines (ink pixels
go to the nearest piece); each gets the palette color of its mean photo color, for the colored
reference page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

import cv2
import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.artwork import DPI, Artwork, Box, Page, px_from_mm, px_from_pt
from mosaic.imaging.color import lightness_from_rgb, quick_lab_from_rgb
from mosaic.imaging.decode import placed_box, resize_rgb
from mosaic.imaging.lineoutlines import SEGMENT_DPI, OutlineLevel, outline_borders, segmentation
from mosaic.imaging.lineregions import paper_regions, region_palette, regions_poles
from mosaic.imaging.strokes import cleaned_skeleton, drawn_strokes, skeleton_of

Detail = Literal["simple", "standard", "detailed", "expert"]


@dataclass(frozen=True, slots=True)
class LineLevel:
    """How one `detail` level draws: sizes on paper, thresholds in lightness (0..1) units."""

    line_width_pt: float
    edge_sigma_mm: float  # scale of the difference of Gaussians
    threshold_high: float  # DoG response that starts a line
    threshold_low: float  # DoG response that continues one
    spur_mm: float  # side branches shorter than this are pruned
    gap_mm: float  # gaps up to this are closed
    fragment_mm: float  # strokes shorter than this are dropped
    outline: OutlineLevel  # the coarse segmentation whose borders are the closed outlines
    detail_mm: float  # interior strokes (off the outlines) shorter than this are dropped


LEVELS: Final[dict[Detail, LineLevel]] = {
    "simple": LineLevel(3.0, 1.0, 0.045, 0.018, 2.0, 5.0, 6.0, OutlineLevel(5, 14.0), 8.0),
    "standard": LineLevel(2.0, 0.7, 0.032, 0.012, 1.5, 4.0, 6.0, OutlineLevel(8, 9.0), 5.0),
    "detailed": LineLevel(1.25, 0.5, 0.024, 0.009, 1.0, 3.0, 4.0, OutlineLevel(10, 6.0), 4.0),
    "expert": LineLevel(0.75, 0.4, 0.018, 0.007, 0.8, 2.5, 3.0, OutlineLevel(12, 4.0), 3.0),
}
WORK_DPI: Final = 120  # edges are found at this resolution, strokes drawn at 300 dpi
DOG_SCALE_RATIO: Final = 1.6  # the two Gaussians of the DoG (Marr–Hildreth's ratio)
BILATERAL_DIAMETER_PX: Final = 5
BILATERAL_SIGMA_LIGHTNESS: Final = 0.08
BILATERAL_PASSES: Final = 2
OUTLINE_ECHO_MM: Final = 1.5  # edge strokes this close to an outline repeat it
INK_SPECK_MM2: Final = 1.0  # no ink component smaller than this reaches the page
DRAWING_INK_LEVEL: Final = 128  # in an upstream drawing, grey below this is a line
HINT_NUMBER_PT: Final = 7.0  # size of optional hint numbers (line art is not numbered)
COLORS_MIN: Final = 1
COLORS_MAX: Final = 20

assert all(px_from_pt(level.line_width_pt) >= 3.0 for level in LEVELS.values())  # ≥ 0.75 pt
assert WORK_DPI < DPI


def lineart_artwork(
    photo: NDArray[np.uint8],
    *,
    page: Page,
    detail: Detail = "standard",
    colors: int = 12,
    seed: int = 0,
) -> Artwork:
    """A coloring page of `photo`: clean outlines, and a colored reference in `colors` colors.

    Parameters
    ----------
    photo
        (H, W, 3) uint8 RGB; not modified.
    page
        The page to lay it out for; the drawing fills `placed_box(photo.shape[:2], page)`.
    detail
        How many lines, how fine: `LEVELS` (line weight 3 / 2 / 1.25 / 0.75 pt).
    colors
        Palette size of the colored reference (`answer`).
    seed
        Seeds the palette's k-means.

    Returns
    -------
    Artwork
        Mode "lineart", `numbered=False`, `ink` the drawing at 300 dpi, `labels` the paper regions.
    """
    assert photo.ndim == 3 and photo.shape[2] == 3 and photo.dtype == np.uint8, photo.shape
    box = placed_box((int(photo.shape[0]), int(photo.shape[1])), page)
    work_w, work_h = _work_size(box)
    level = LEVELS[detail]
    work_rgb = resize_rgb(photo, width=work_w, height=work_h)
    edges = _edge_lines(lightness_from_rgb(work_rgb) / np.float32(100.0), level)
    seg_w, seg_h = (max(1, round(n * SEGMENT_DPI / WORK_DPI)) for n in (work_w, work_h))
    segmented = segmentation(
        quick_lab_from_rgb(resize_rgb(work_rgb, width=seg_w, height=seg_h)),
        level.outline,
        seed=seed,
        px_per_mm=SEGMENT_DPI / 25.4,
    )
    outlines = outline_borders(segmented, width=work_w, height=work_h)
    lines = outlines | _interior_strokes(edges, outlines, level)
    return _artwork(lines, page=page, box=box, detail=detail, colors=colors, seed=seed, rgb=photo)


def photo_side_px(page: Page) -> int:
    """The longer side, in pixels, of the photo `lineart_artwork` needs for `page`.

    Edges are found at `WORK_DPI` and region colors sampled coarser still, so a photo decoded
    larger than the art box at `WORK_DPI` only costs time (a 12 MP JPEG decodes at half scale).
    """
    return math.ceil(max(page.art.width, page.art.height) * WORK_DPI / DPI)


def lineart_from_drawing(
    drawing_gray: NDArray[np.uint8],
    *,
    page: Page,
    detail: Detail = "standard",
    colors: int = 12,
    seed: int = 0,
    reference_rgb: NDArray[np.uint8] | None = None,
) -> Artwork:
    """A coloring page from a line drawing (dark lines on light paper), through the same cleanup.

    Parameters
    ----------
    drawing_gray
        (H, W) uint8 grey drawing, e.g. from an upstream AI model; not modified.
    page, detail, colors, seed
        As for `lineart_artwork`; `detail` sets the line weight and the cleanup's lengths.
    reference_rgb
        (H', W', 3) uint8 picture to color the reference page from (same aspect as the drawing),
        or None to color it from the drawing itself.

    Returns
    -------
    Artwork
        Mode "lineart", `numbered=False`.
    """
    assert drawing_gray.ndim == 2 and drawing_gray.dtype == np.uint8, drawing_gray.shape
    box = placed_box((int(drawing_gray.shape[0]), int(drawing_gray.shape[1])), page)
    work_w, work_h = _work_size(box)
    small = cv2.resize(drawing_gray, (work_w, work_h), interpolation=cv2.INTER_AREA)
    lines = np.asarray(small < DRAWING_INK_LEVEL)
    rgb = reference_rgb if reference_rgb is not None else np.dstack([drawing_gray] * 3)
    return _artwork(lines, page=page, box=box, detail=detail, colors=colors, seed=seed, rgb=rgb)


def _work_size(box: Box) -> tuple[int, int]:
    scale = DPI / WORK_DPI
    return max(1, round(box.width / scale)), max(1, round(box.height / scale))


def _edge_lines(lightness: NDArray[np.float32], level: LineLevel) -> NDArray[np.bool_]:
    """(h, w) bool: the dark side of edges and thin dark features of `lightness` (h, w) 0..1."""
    smooth: NDArray[np.float32] = lightness
    for _ in range(BILATERAL_PASSES):
        smooth = cv2.bilateralFilter(  # type: ignore[assignment]
            smooth, BILATERAL_DIAMETER_PX, BILATERAL_SIGMA_LIGHTNESS, BILATERAL_DIAMETER_PX / 2.0
        )
    sigma = level.edge_sigma_mm * WORK_DPI / 25.4
    fine = cv2.GaussianBlur(smooth, (0, 0), sigmaX=sigma, sigmaY=sigma)
    coarse = cv2.GaussianBlur(smooth, (0, 0), sigmaX=DOG_SCALE_RATIO * sigma, sigmaY=DOG_SCALE_RATIO * sigma)
    darker = coarse - fine  # > 0 where a pixel is darker than its surroundings
    return _hysteresis(darker, low=level.threshold_low, high=level.threshold_high)


def _hysteresis(response: NDArray[np.float32], *, low: float, high: float) -> NDArray[np.bool_]:
    """(h, w) bool: the 4-connected pieces of `response > low` that hold a pixel `> high`.

    What `skimage.filters.apply_hysteresis_threshold` computes, with OpenCV's labelling (a quarter
    of the time of scipy's).
    """
    weak = np.asarray(response > low, dtype=np.uint8)
    count, found = cv2.connectedComponents(weak, connectivity=4, ltype=cv2.CV_32S)
    pieces = np.asarray(found, dtype=np.int32)
    strong = np.bincount(pieces[response > high], minlength=count) > 0
    strong[0] = False
    lines: NDArray[np.bool_] = strong.take(pieces)
    return lines


def _interior_strokes(
    edges: NDArray[np.bool_], outlines: NDArray[np.bool_], level: LineLevel
) -> NDArray[np.bool_]:
    """The edge strokes that add detail inside the outlined regions (eyes, mouth, whiskers).

    Edge pixels within `OUTLINE_ECHO_MM` of an outline repeat it and are dropped; of the rest,
    only strokes at least `level.detail_mm` long (by their thinned length) are kept.
    """
    work_px_per_mm = WORK_DPI / 25.4
    near = max(1, round(OUTLINE_ECHO_MM * work_px_per_mm))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * near + 1, 2 * near + 1))
    rest = np.asarray(edges & (cv2.dilate(outlines.astype(np.uint8), kernel) == 0), dtype=bool)
    count, pieces = cv2.connectedComponents(rest.astype(np.uint8), connectivity=8)
    if count <= 1:
        return rest
    length = np.bincount(pieces[skeleton_of(rest) > 0], minlength=count)
    keep = length >= level.detail_mm * work_px_per_mm
    keep[0] = False
    return np.asarray(keep[pieces], dtype=bool)


def _artwork(
    lines: NDArray[np.bool_],
    *,
    page: Page,
    box: Box,
    detail: Detail,
    colors: int,
    seed: int,
    rgb: NDArray[np.uint8],
) -> Artwork:
    assert COLORS_MIN <= colors <= COLORS_MAX, colors
    level = LEVELS[detail]
    work_px_per_mm = WORK_DPI / 25.4
    skeleton = cleaned_skeleton(
        lines,
        spur_px=max(1, round(level.spur_mm * work_px_per_mm)),
        gap_px=max(2, round(level.gap_mm * work_px_per_mm)),
        fragment_px=max(2, round(level.fragment_mm * work_px_per_mm)),
    )
    ink = drawn_strokes(
        skeleton,
        scale=box.width / lines.shape[1],
        height=box.height,
        width=box.width,
        line_width_px=px_from_pt(level.line_width_pt),
    )
    ink = _without_specks(ink, area_min_px=px_from_mm(1.0) ** 2 * INK_SPECK_MM2)
    labels = paper_regions(ink, area_min_px=px_from_mm(1.0) ** 2 * INK_SPECK_MM2)
    region_count = int(labels.max()) + 1
    anchors = regions_poles(labels, ink, region_count=region_count)
    region_color, palette_rgb = region_palette(
        rgb, labels, region_count=region_count, colors=colors, seed=seed
    )
    artwork = Artwork(
        mode="lineart",
        page=page,
        box=box,
        labels=labels,
        region_color=region_color,
        palette_rgb=palette_rgb,
        anchors_xy=anchors,
        number_size_pt=HINT_NUMBER_PT,
        line_width_pt=level.line_width_pt,
        numbered=False,
        ink=ink,
    )
    artwork.check()
    return artwork


def _without_specks(ink: NDArray[np.bool_], *, area_min_px: float) -> NDArray[np.bool_]:
    """Drop 8-connected ink components smaller than `area_min_px`."""
    count, found = cv2.connectedComponents(ink.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    labels = np.asarray(found, dtype=np.int32)
    keep = np.bincount(labels.reshape(-1), minlength=count) >= area_min_px
    keep[0] = False
    if bool(keep[1:].all()):
        return ink
    kept: NDArray[np.bool_] = keep.take(labels)
    return kept
