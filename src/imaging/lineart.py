"""Coloring pages: a photo's outlines as clean, closed strokes, and the regions between them.

Outlines: the borders of an edge-preserving segmentation (`lineoutlines`), closed by
construction, fewer and larger regions at lower detail. Edges add the interior detail the
segmentation misses (eyes, mouth, whiskers): strokes off the outlines, long enough to matter.
Edges: the photo's lightness at `WORK_DPI` is smoothed with a bilateral filter (edges kept, texture
flattened), then a difference of Gaussians (the core of XDoG) marks the dark side of every edge
and every thin dark feature (eyes, mouth, hair lines), kept by hysteresis: strong responses, and
weak ones connected to them. Cleanup (`strokes`): thinning, spur pruning, gap closing, fragment
removal. No area is too small or too narrow to color at its level
(`lineregions.without_small_pieces`): where one would be, the line between it and its neighbour
is erased. The skeleton is then redrawn at 300 dpi at the level's line weight and no ink speck
under `INK_SPECK_MM2` survives. Regions are the connected pieces of paper between the lines (ink
pixels go to the nearest piece); each gets the palette color of its mean photo color, for the colored
reference page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.artwork import DPI, Artwork, Box, Page, px_from_mm, px_from_pt
from mosaic.imaging.color import lightness_from_rgb, quick_lab_from_rgb
from mosaic.imaging.decode import placed_box, resize_rgb
from mosaic.imaging.faces import features_mask, find_faces
from mosaic.imaging.lineoutlines import OutlineLevel, outline_borders, segmentation
from mosaic.imaging.lineregions import paper_regions, region_palette, regions_poles, without_small_pieces
from mosaic.imaging.options import Detail
from mosaic.imaging.strokes import cleaned_skeleton, drawn_strokes, skeleton_of


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
    area_min_mm2: float  # no area to color has less paper than this
    width_min_mm: float  # nor is any narrower than this at its widest


# A Letter art box holds 30,000-36,000 mm² of picture. `simple` is a child's page: a few dozen
# large areas under 3 pt lines. Each level up segments finer (more colors, a smaller square, on a
# finer grid, less smoothing) and lets smaller areas stand, in the segmentation and on the page
# alike. On the fixture photos: 25-39, 146-243, 356-534 and 704-1,046 areas.
# Columns: line pt, DoG σ mm, high, low, spur mm, gap mm, fragment mm, outline (colors, square mm,
# dpi, smoothing passes, speck mm²), detail mm, area mm², width mm.
LEVELS: Final[dict[Detail, LineLevel]] = {
    "simple": LineLevel(
        3.0, 1.0, 0.045, 0.018, 2.0, 5.0, 6.0, OutlineLevel(10, 8.0, 50, 2, 4.0), 8.0, 40.0, 4.0
    ),
    "standard": LineLevel(
        2.0, 0.7, 0.032, 0.012, 1.5, 4.0, 6.0, OutlineLevel(28, 2.5, 50, 1, 3.0), 5.0, 10.0, 2.5
    ),
    "detailed": LineLevel(
        1.25, 0.5, 0.024, 0.009, 1.0, 3.0, 4.0, OutlineLevel(40, 1.2, 60, 1, 2.0), 4.0, 5.0, 1.8
    ),
    "expert": LineLevel(
        0.75, 0.4, 0.018, 0.007, 0.8, 2.5, 3.0, OutlineLevel(56, 1.0, 75, 1, 1.0), 3.0, 2.5, 1.25
    ),
}
WORK_DPI: Final = 120  # edges are found at this resolution, strokes drawn at 300 dpi
DOG_SCALE_RATIO: Final = 1.6  # the two Gaussians of the DoG (Marr–Hildreth's ratio)
BILATERAL_DIAMETER_PX: Final = 5
BILATERAL_SIGMA_LIGHTNESS: Final = 0.08
BILATERAL_PASSES: Final = 2
OUTLINE_ECHO_MM: Final = 1.5  # edge strokes this close to an outline repeat it
FACE_MM_MIN: Final = 25.0  # faces narrower than this on paper are drawn like anything else
FACE_BORDER_INSIDE_SHARE: Final = 0.5  # outlines this much inside a face's features are left out
# Inside a face: a finer DoG with stricter thresholds keeps eyes, brows, nostrils and the mouth
# (thin, dark, high contrast) and leaves out soft shadows.
FACE_EDGE_SIGMA_MM: Final = 0.5
FACE_THRESHOLD_HIGH: Final = 0.05
FACE_THRESHOLD_LOW: Final = 0.02
FACE_STROKE_MM: Final = 2.0  # face strokes shorter than this are dropped (an eye is about 4 mm)
FACE_GAP_MM: Final = 1.0  # gaps closed between face strokes
FACE_CLEARANCE_MM: Final = 0.75  # paper kept between a face's strokes and any outline
# Pieces of paper are judged at `WORK_DPI`, a little strictly: redrawn at 300 dpi, a line's edge
# moves by up to half a working pixel, and every area printed keeps its level's minimum.
PIECE_AREA_MARGIN: Final = 1.15
PIECE_WIDTH_MARGIN_MM: Final = 0.1
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
    smooth = _smoothed(lightness_from_rgb(work_rgb) / np.float32(100.0))
    edges = _dog_lines(smooth, level.edge_sigma_mm, low=level.threshold_low, high=level.threshold_high)
    seg_w, seg_h = (max(1, round(n * level.outline.dpi / WORK_DPI)) for n in (work_w, work_h))
    segmented = segmentation(
        quick_lab_from_rgb(resize_rgb(work_rgb, width=seg_w, height=seg_h)),
        level.outline,
        seed=seed,
        px_per_mm=level.outline.dpi / 25.4,
        area_min_mm2=level.area_min_mm2,
    )
    faces = find_faces(photo, min_share=FACE_MM_MIN / (max(box.width, box.height) / px_from_mm(1.0)))
    features = features_mask(faces, width=work_w, height=work_h)
    # Inside a face the segmentation's borders are lighting (the shadow beside a nose): left out.
    outlines = outline_borders(
        segmented, width=work_w, height=work_h, leave_out=features, leave_out_share=FACE_BORDER_INSIDE_SHARE
    )
    features_drawn = None
    if features.any():
        # The level's edges draw soft shadows too; inside a face a finer, stricter test draws the
        # features (eyes, brows, nostrils, mouth): small, and never an outline's echo.
        sigma_mm = min(level.edge_sigma_mm, FACE_EDGE_SIGMA_MM)
        drawn = _dog_lines(smooth, sigma_mm, low=FACE_THRESHOLD_LOW, high=FACE_THRESHOLD_HIGH)
        features_drawn = drawn & features
        edges &= ~features
    lines = outlines | _interior_strokes(edges, outlines, level)
    return _artwork(
        lines, page=page, box=box, detail=detail, colors=colors, seed=seed, rgb=photo, features=features_drawn
    )


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


def _smoothed(lightness: NDArray[np.float32]) -> NDArray[np.float32]:
    """`lightness` (h, w) 0..1 with edges kept and texture flattened (bilateral passes)."""
    smooth: NDArray[np.float32] = lightness
    for _ in range(BILATERAL_PASSES):
        smooth = cv2.bilateralFilter(  # type: ignore[assignment]
            smooth, BILATERAL_DIAMETER_PX, BILATERAL_SIGMA_LIGHTNESS, BILATERAL_DIAMETER_PX / 2.0
        )
    return smooth


def _dog_lines(smooth: NDArray[np.float32], sigma_mm: float, *, low: float, high: float) -> NDArray[np.bool_]:
    """(h, w) bool: the dark side of edges and thin dark features of `smooth` (h, w) 0..1, found
    by a difference of Gaussians at `sigma_mm` on paper and kept by hysteresis."""
    sigma = sigma_mm * WORK_DPI / 25.4
    fine = cv2.GaussianBlur(smooth, (0, 0), sigmaX=sigma, sigmaY=sigma)
    coarse = cv2.GaussianBlur(smooth, (0, 0), sigmaX=DOG_SCALE_RATIO * sigma, sigmaY=DOG_SCALE_RATIO * sigma)
    darker = coarse - fine  # > 0 where a pixel is darker than its surroundings
    return _hysteresis(darker, low=low, high=high)


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
    features: NDArray[np.bool_] | None = None,
) -> Artwork:
    """The page from `lines` (work resolution): cleaned up, drawn at 300 dpi, regions between.

    `features` (work resolution) are a face's strokes: cleaned on their own, with shorter
    lengths (`FACE_STROKE_MM`, `FACE_GAP_MM`), and kept clear of the outlines, so an eye is
    neither dropped as a fragment nor joined to a nearby outline.
    """
    assert COLORS_MIN <= colors <= COLORS_MAX, colors
    level = LEVELS[detail]
    work_px_per_mm = WORK_DPI / 25.4
    spur_px = max(1, round(level.spur_mm * work_px_per_mm))
    skeleton = cleaned_skeleton(
        lines,
        spur_px=spur_px,
        gap_px=max(2, round(level.gap_mm * work_px_per_mm)),
        fragment_px=max(2, round(level.fragment_mm * work_px_per_mm)),
    )
    if features is not None:
        drawn = cleaned_skeleton(
            features,
            spur_px=spur_px,
            gap_px=max(2, round(FACE_GAP_MM * work_px_per_mm)),
            fragment_px=max(2, round(FACE_STROKE_MM * work_px_per_mm)),
        )
        # A face's strokes stand apart: an outline passing closer than a line's width plus
        # `FACE_CLEARANCE_MM` is broken there rather than merged into an eye.
        clear = math.ceil((level.line_width_pt * 25.4 / 72.0 + FACE_CLEARANCE_MM) * work_px_per_mm)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * clear + 1, 2 * clear + 1))
        skeleton = (skeleton & (cv2.dilate(drawn, kernel) == 0)) | drawn
    line_mm = level.line_width_pt * 25.4 / 72.0
    skeleton = without_small_pieces(
        skeleton,
        area_min_px=level.area_min_mm2 * PIECE_AREA_MARGIN * work_px_per_mm**2,
        width_min_px=(level.width_min_mm + PIECE_WIDTH_MARGIN_MM) * work_px_per_mm,
        line_width_px=line_mm * work_px_per_mm,
        spur_px=spur_px,
        kept=None if features is None else drawn > 0,
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
    """Drop 8-connected ink components smaller than `area_min_px`.

    Areas and boxes come from OpenCV's labelling; each speck is cleared inside its own box, so a
    page with a few specks costs no pass over the whole page beyond the labelling.
    """
    _, found, stats, _ = cv2.connectedComponentsWithStats(
        ink.view(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    labels = np.asarray(found, dtype=np.int32)
    specks = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < area_min_px) + 1
    if specks.size == 0:
        return ink
    kept = ink.copy()
    for index in specks.tolist():
        x, y, w, h = (int(v) for v in stats[index, :4])
        kept[y : y + h, x : x + w][labels[y : y + h, x : x + w] == index] = False
    return kept
