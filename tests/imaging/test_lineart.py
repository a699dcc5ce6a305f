from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from synthetic_artworks import ASTRONAUT_FEATURES

from mosaic.imaging.artwork import Artwork, page_for, px_from_mm, px_from_pt
from mosaic.imaging.decode import decode_photo
from mosaic.imaging.lineart import LEVELS, _hysteresis, lineart_artwork, lineart_from_drawing
from mosaic.imaging.lineregions import free_paper, paper_regions, regions_poles, without_small_pieces
from mosaic.imaging.options import Detail
from mosaic.imaging.orientation import page_fitting
from mosaic.imaging.strokes import skeleton_of

IMAGES = Path(__file__).resolve().parents[1] / "fixtures" / "images"
PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "color", "logo")
LETTER = page_for("letter")
# At 120-300 areas a 2 pt line covers 11-18 % of the page (the fixtures at standard).
INK_COVERAGE_MAX = 0.2
FIXTURES = ("astronaut", "camera", "chelsea", "coffee")
# Areas a Letter page of a photo should have at each level (the ranges); a child's page
# still has some: the fixtures give 25-39.
LEVEL_AREAS: dict[Detail, tuple[int, int | None]] = {
    "simple": (15, 80),
    "standard": (120, 300),
    "detailed": (300, 700),
    "expert": (700, None),
}


@cache
def _photo(name: str) -> NDArray[np.uint8]:
    return decode_photo((IMAGES / f"{name}.png").read_bytes())


@cache
def _on_its_page(name: str, detail: Detail) -> Artwork:
    """The photo's page at `detail` on Letter, turned with the photo (`orientation=auto`)."""
    photo = _photo(name)
    return lineart_artwork(photo, page=page_fitting(photo.shape[:2], "letter", "auto"), detail=detail)


def _astronaut(detail: Detail) -> Artwork:
    assert page_fitting(_photo("astronaut").shape[:2], "letter", "auto") == LETTER  # a square photo
    return _on_its_page("astronaut", detail)


def _paper_areas_and_widths(artwork: Artwork) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each region's paper in mm², and its width in mm: twice the largest distance from one of its
    paper pixels to ink, another region or the frame (the widest stroke that fits)."""
    ink, labels = _ink(artwork), artwork.labels
    free = free_paper(labels, ink)
    distance = cv2.distanceTransform(np.pad(free.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    widest = np.zeros(artwork.region_count)
    np.maximum.at(widest, labels.ravel(), distance.ravel())
    paper = np.bincount(labels[~ink], minlength=artwork.region_count)
    mm = px_from_mm(1.0)
    return paper / mm**2, 2.0 * widest / mm


def _ink(artwork: Artwork) -> NDArray[np.bool_]:
    assert artwork.ink is not None
    return artwork.ink


def _smallest_ink_mm2(ink: NDArray[np.bool_]) -> float:
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if count == 1:
        return float("inf")
    return float(stats[1:, cv2.CC_STAT_AREA].min()) / px_from_mm(1.0) ** 2


@pytest.mark.parametrize("name", PHOTOS)
def test_every_photo_gives_a_clean_coloring_page(name: str) -> None:
    artwork = lineart_artwork(_photo(name), page=LETTER, colors=10)
    artwork.check()
    ink = _ink(artwork)
    assert artwork.mode == "lineart" and not artwork.numbered
    assert artwork.palette_rgb.shape == (10, 3)
    assert ink.mean() <= INK_COVERAGE_MAX
    assert ink.any() or name == "color"  # a smooth color wheel has no edge in lightness
    assert _smallest_ink_mm2(ink) >= 1.0
    x = np.rint(artwork.anchors_xy[:, 0]).astype(int)
    y = np.rint(artwork.anchors_xy[:, 1]).astype(int)
    assert np.array_equal(artwork.labels[y, x], np.arange(artwork.region_count))
    assert not ink[y, x].any()


@pytest.mark.parametrize("detail", list(LEVELS))
def test_line_weight_falls_with_detail_and_the_page_stays_light(detail: Detail) -> None:
    artwork = _astronaut(detail)
    ink = _ink(artwork)
    distance = cv2.distanceTransform(np.pad(ink, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    widths = 2.0 * distance[skeleton_of(ink) > 0] - 1.0  # distances reach the next pixel's centre
    target = px_from_pt(LEVELS[detail].line_width_pt)
    assert artwork.line_width_pt == LEVELS[detail].line_width_pt
    assert float(np.median(widths)) == pytest.approx(target, rel=0.35)
    assert ink.mean() <= INK_COVERAGE_MAX
    assert _smallest_ink_mm2(ink) >= 1.0


@pytest.mark.parametrize("detail", list(LEVELS))
def test_the_astronauts_face_keeps_its_eyes_and_mouth_as_strokes_of_their_own(detail: Detail) -> None:
    # A feature is drawn when a stroke of its own lies there: an ink piece of the area round it
    # that stays inside that area. An outline merely passing through (a shadow's border across an
    # eye) runs out of it, and does not count.
    artwork = _astronaut(detail)
    ink = _ink(artwork)
    scale = artwork.box.width / _photo("astronaut").shape[1]
    for feature, (x0, x1, y0, y1) in ASTRONAUT_FEATURES.items():
        margin_x, margin_y = (x1 - x0) // 2, (y1 - y0) // 2
        top, bottom = round((y0 - margin_y) * scale), round((y1 + margin_y) * scale)
        left, right = round((x0 - margin_x) * scale), round((x1 + margin_x) * scale)
        around = ink[top:bottom, left:right].astype(np.uint8)
        count, pieces, stats, _ = cv2.connectedComponentsWithStats(around, connectivity=8)
        own = [
            i
            for i in range(1, count)
            if stats[i, cv2.CC_STAT_LEFT] > 0
            and stats[i, cv2.CC_STAT_TOP] > 0
            and stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] < around.shape[1]
            and stats[i, cv2.CC_STAT_TOP] + stats[i, cv2.CC_STAT_HEIGHT] < around.shape[0]
        ]
        inside = np.zeros(around.shape, dtype=bool)  # the feature's own window
        inside[
            round(y0 * scale) - top : round(y1 * scale) - top,
            round(x0 * scale) - left : round(x1 * scale) - left,
        ] = True
        assert any(inside[pieces == i].sum() >= px_from_mm(1.0) ** 2 for i in own), feature


def test_the_regions_are_the_paper_between_the_lines() -> None:
    artwork = _astronaut("standard")
    ink = _ink(artwork)
    _, paper = cv2.connectedComponents((~ink).astype(np.uint8), connectivity=4)
    # Every piece of paper of 1 mm² or more is a region of its own, and nothing else is.
    pieces = np.bincount(paper[~ink])[1:]  # label 0 is the ink
    big = np.flatnonzero(pieces >= px_from_mm(1.0) ** 2)
    assert len(big) == artwork.region_count


def test_a_drawing_with_small_gaps_comes_out_closed() -> None:
    drawing = np.full((600, 800), 255, dtype=np.uint8)
    cv2.rectangle(drawing, (100, 100), (350, 450), 0, thickness=3)
    drawing[260:270, 98:104] = 255  # a 10 px gap: 1.3 mm on paper at this scale
    cv2.circle(drawing, (560, 300), 130, 0, thickness=3)
    artwork = lineart_from_drawing(drawing, page=LETTER, detail="standard", colors=4)
    artwork.check()
    scale = artwork.box.width / drawing.shape[1]
    inside_square = artwork.labels[round(275 * scale), round(225 * scale)]
    inside_circle = artwork.labels[round(300 * scale), round(560 * scale)]
    outside = artwork.labels[round(40 * scale), round(40 * scale)]
    assert len({int(inside_square), int(inside_circle), int(outside)}) == 3
    assert artwork.region_count == 3


def test_a_flat_photo_gives_a_blank_page_with_one_region() -> None:
    artwork = lineart_artwork(np.full((200, 300, 3), 90, dtype=np.uint8), page=LETTER, colors=4)
    assert not _ink(artwork).any()
    assert artwork.region_count == 1
    assert artwork.palette_rgb.shape == (4, 3)


@pytest.mark.parametrize("detail", ["detailed", "expert"])
def test_the_same_photo_gives_an_identical_page_and_the_photo_is_untouched(detail: Detail) -> None:
    photo = _photo("chelsea")
    kept = photo.copy()
    first = lineart_artwork(photo, page=LETTER, detail=detail)
    second = lineart_artwork(photo, page=LETTER, detail=detail)
    assert np.array_equal(photo, kept)
    assert np.array_equal(_ink(first), _ink(second))
    assert np.array_equal(first.labels, second.labels)
    assert np.array_equal(first.region_color, second.region_color)
    assert np.array_equal(first.palette_rgb, second.palette_rgb)


@pytest.mark.parametrize("name", ["chelsea", "astronaut", "coffee"])
def test_a_photo_gives_closed_areas_to_color(name: str) -> None:
    # Open strokes leave most of the page one piece of paper; closed outlines divide it up.
    artwork = lineart_artwork(_photo(name), page=LETTER, detail="standard")
    area = np.bincount(artwork.labels.ravel())
    enclosed = area < 0.25 * artwork.labels.size  # each a real area, not the page round the strokes
    assert float(enclosed[artwork.labels].mean()) >= 0.8
    if name == "chelsea":  # the old strokes gave 10 regions here; outlines give 243
        assert artwork.region_count >= 120


def test_hysteresis_keeps_the_weak_pieces_that_hold_a_strong_pixel() -> None:
    from skimage.filters import apply_hysteresis_threshold

    rng = np.random.default_rng(7)
    for sigma in (1.0, 2.5, 4.0):
        field = cv2.GaussianBlur(rng.normal(0.0, 0.1, (240, 320)).astype(np.float32), (0, 0), sigma)
        expected = apply_hysteresis_threshold(field, 0.01, 0.03)
        assert np.array_equal(_hysteresis(field, low=0.01, high=0.03), expected)


def _regions_by_brute_force(ink: NDArray[np.bool_], area_min_px: float) -> NDArray[np.int32]:
    """Paper pieces (4-connected) of at least `area_min_px`, in order of their first pixel; every
    other pixel to the region of its nearest such pixel (OpenCV's 3×3 L2 distance)."""
    _, pieces = cv2.connectedComponents((~ink).astype(np.uint8), connectivity=4)
    flat = pieces.ravel()
    sizes = np.bincount(flat)
    order = [p for p in dict.fromkeys(flat.tolist()) if p != 0 and sizes[p] >= area_min_px]
    region_of_piece = np.full(len(sizes), -1)
    region_of_piece[order] = np.arange(len(order))
    seeds = region_of_piece[pieces]
    _, nearest = cv2.distanceTransformWithLabels(
        (seeds < 0).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    return np.concatenate([[0], seeds[seeds >= 0]])[nearest].astype(np.int32)


@pytest.mark.parametrize("corner", [False, True])
def test_paper_regions_are_the_pieces_between_the_lines_and_ink_goes_to_the_nearest(corner: bool) -> None:
    ink = np.zeros((60, 80), dtype=bool)
    ink[:, 30:33] = True  # a line: two pieces either side
    ink[10:14, 50:54] = True  # a blob in the right piece
    ink[40:43, 60:63] = True
    ink[41, 61] = False  # a one-pixel hole: too small to be a region, it goes to the nearest
    if corner:  # two pieces of paper touching only at a corner
        ink[:, 33:] = True
        ink[20:40, 33:60] = False
        ink[40:59, 60:79] = False
    labels = paper_regions(ink, area_min_px=9)
    assert np.array_equal(labels, _regions_by_brute_force(ink, 9))
    assert labels.dtype == np.int32 and int(labels.max()) + 1 == (3 if corner else 2)


def test_every_region_pole_is_its_point_farthest_from_ink_and_other_regions() -> None:
    artwork = _astronaut("standard")
    ink = _ink(artwork)
    labels = artwork.labels[300:900, 300:1000]  # a crop cuts regions: poles of the cut pieces
    crop_ink = ink[300:900, 300:1000]
    _, relabelled = np.unique(labels, return_inverse=True)
    relabelled = relabelled.reshape(labels.shape).astype(np.int32)
    count = int(relabelled.max()) + 1
    poles = regions_poles(relabelled, crop_ink, region_count=count)
    free = free_paper(relabelled, crop_ink)
    distance = cv2.distanceTransform(np.pad(free.astype(np.uint8), 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    for region in range(count):
        where = np.flatnonzero(relabelled.ravel() == region)
        first_best = where[np.argmax(distance.ravel()[where])]  # argmax: the first in raster order
        y, x = divmod(int(first_best), labels.shape[1])
        assert tuple(poles[region]) == (x, y), region


@pytest.mark.parametrize("detail", list(LEVELS))
@pytest.mark.parametrize("name", FIXTURES)
def test_each_level_gives_a_photo_its_range_of_areas(name: str, detail: Detail) -> None:
    # Measured (simple / standard / detailed / expert): astronaut 39 / 189 / 393 / 719, camera
    # 26 / 156 / 398 / 738, chelsea 39 / 243 / 534 / 1,046, coffee 25 / 146 / 356 / 704.
    low, high = LEVEL_AREAS[detail]
    count = _on_its_page(name, detail).region_count
    assert count >= low and (high is None or count <= high), count


@pytest.mark.parametrize("name", FIXTURES)
def test_every_level_up_gives_more_areas(name: str) -> None:
    counts = [_on_its_page(name, detail).region_count for detail in LEVELS]
    assert counts == sorted(counts) and len(set(counts)) == len(counts), counts


@pytest.mark.parametrize("detail", list(LEVELS))
@pytest.mark.parametrize("name", FIXTURES)
def test_no_area_is_smaller_or_narrower_than_its_level_allows(name: str, detail: Detail) -> None:
    area, width = _paper_areas_and_widths(_on_its_page(name, detail))
    level = LEVELS[detail]
    assert float(area.min()) >= level.area_min_mm2
    assert float(width.min()) >= level.width_min_mm


def _lines(columns: tuple[int, ...], box: tuple[int, int, int, int] | None = None) -> NDArray[np.uint8]:
    """A 100 x 100 skeleton: full-height lines at `columns`, and a closed box (x0, y0, x1, y1)."""
    skeleton = np.zeros((100, 100), dtype=np.uint8)
    skeleton[:, list(columns)] = 1
    if box is not None:
        cv2.rectangle(skeleton, box[:2], box[2:], 1, thickness=1)
    return skeleton


@pytest.mark.parametrize(
    ("lines", "width_min_px", "left"),
    [
        # A crumb of 16 px closed off inside the left half (5,000 px) joins it: its box goes.
        (_lines((50,), (20, 20, 25, 25)), 3, _lines((50,))),
        # A strip 2 px wide joins a neighbour; both share as much border, the first in raster
        # order wins: the line between them goes.
        (_lines((40, 43)), 4, _lines((43,))),
        # The frame is a line: 3 px of paper between it and a line are too narrow.
        (_lines((3, 60)), 5, _lines((60,))),
    ],
    ids=["crumb", "strip", "strip-along-the-frame"],
)
def test_a_piece_too_small_or_too_narrow_to_color_loses_the_line_that_cut_it_off(
    lines: NDArray[np.uint8], width_min_px: float, left: NDArray[np.uint8]
) -> None:
    out = without_small_pieces(
        lines, area_min_px=100, width_min_px=width_min_px, line_width_px=0.5, spur_px=2
    )
    assert np.array_equal(out, left)


def test_lines_that_would_touch_when_drawn_are_joined_into_one() -> None:
    skeleton = _lines((40, 43))  # drawn 3 px wide, the two lines leave no paper between them
    out = without_small_pieces(skeleton, area_min_px=10, width_min_px=1, line_width_px=3.0, spur_px=2)
    _, pieces = cv2.connectedComponents((1 - out).astype(np.uint8), connectivity=4)
    assert int(pieces.max()) == 2  # one line: the paper either side of it
    assert set(np.flatnonzero(out.any(axis=0)).tolist()) <= {41, 42}


def test_a_hole_the_thinning_left_between_diagonal_steps_is_inked() -> None:
    skeleton = np.zeros((40, 40), dtype=np.uint8)
    for i in range(40):  # two diagonal lines a step apart, touching at their corners
        skeleton[i, i] = 1
        if i + 2 < 40:
            skeleton[i, i + 2] = 1
    _, before = cv2.connectedComponents((1 - skeleton).astype(np.uint8), connectivity=4)
    out = without_small_pieces(skeleton, area_min_px=10, width_min_px=0, line_width_px=0.5, spur_px=1)
    assert int(before.max()) == 41  # the two sides, and a one-pixel hole on each row but the last
    _, after = cv2.connectedComponents((1 - out).astype(np.uint8), connectivity=4)
    assert int(after.max()) == 2 and out[5, 6] == 1


def test_a_crumb_inside_a_face_stroke_is_inked_not_opened() -> None:
    skeleton = _lines((), (20, 20, 25, 25))
    kept = skeleton.astype(bool)  # an eye: its stroke stays
    out = without_small_pieces(
        skeleton, area_min_px=100, width_min_px=3, line_width_px=0.5, spur_px=2, kept=kept
    )
    expected = _lines(())
    expected[20:26, 20:26] = 1
    assert np.array_equal(out, expected)
