from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy import ndimage

from mosaic.imaging.artwork import Artwork, page_for
from mosaic.imaging.cbn import LINE_WIDTH_PT, NUMBER_SIZE_PT, cbn_artwork
from mosaic.imaging.color import JND_DELTA_E, delta_e_2000, lab_from_rgb
from mosaic.imaging.decode import decode_photo, placed_box, resize_rgb
from mosaic.imaging.fidelity import answer_rgb, kmeans_baseline_rgb, mean_delta_e
from mosaic.imaging.merging import merge_cheapest_first, region_costs
from mosaic.imaging.options import Detail
from mosaic.imaging.placement import number_room
from mosaic.imaging.regions import border_mask, components, fits_mask, regions_fitting, without_thin_parts

IMAGES = Path(__file__).resolve().parents[1] / "fixtures" / "images"
PHOTOS = ["astronaut", "camera", "chelsea", "coffee", "color", "logo"]
SLIVER_PX_MAX = 12  # at 300 dpi: a tail 1 px wide and 1 mm long would be 12 px
FLAT_COLORS = np.array(
    [[200, 30, 40], [30, 150, 60], [40, 60, 190], [240, 210, 50], [30, 30, 30]], dtype=np.uint8
)


@cache
def _photo(name: str) -> np.ndarray:
    photo = decode_photo((IMAGES / f"{name}.png").read_bytes())
    photo.setflags(write=False)
    return photo


@cache
def _artwork(name: str, detail: Detail = "standard", colors: int = 12) -> Artwork:
    return cbn_artwork(_photo(name), page=page_for("letter"), colors=colors, detail=detail)


def _stripes(colors: np.ndarray, *, width: int = 300, height: int = 200) -> np.ndarray:
    photo = np.zeros((height, width, 3), dtype=np.uint8)
    edges = np.linspace(0, width, len(colors) + 1).astype(int)
    for color, left, right in zip(colors, edges[:-1], edges[1:], strict=True):
        photo[:, left:right] = color
    return photo


def _assert_legible(art: Artwork, detail: Detail) -> None:
    """Every region is one piece, holds its number clear of the lines, with no slivers."""
    labels = art.labels
    room = number_room(number_size_pt=NUMBER_SIZE_PT[detail], line_width_pt=LINE_WIDTH_PT[detail])
    border = border_mask(labels)
    fits = fits_mask(border, half_width_px=room.half_width_px, half_height_px=room.half_height_px)
    cols = art.anchors_xy[:, 0].astype(int)
    rows = art.anchors_xy[:, 1].astype(int)
    assert np.array_equal(labels[rows, cols], np.arange(art.region_count))  # inside its region
    assert bool(fits[rows, cols].all())  # the number's box + clearance touches no line
    radius = cv2.distanceTransform((~border).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5)
    assert float(radius[rows, cols].min()) >= room.half_height_px
    area = np.bincount(labels.reshape(-1), minlength=art.region_count)
    assert int(area.min()) >= (2 * room.half_width_px + 1) * (2 * room.half_height_px + 1)
    pieces = [
        ndimage.label(labels[found] == index)[1]
        for index, found in enumerate(ndimage.find_objects(labels + 1))
    ]
    assert all(count == 1 for count in pieces)  # one number per region means one piece
    # A 1–2 px sliver would vanish under a 3×3 opening; a corner loses a pixel or two, no more.
    thin = without_thin_parts(labels, square_px=3) != labels
    _, lost = cv2.connectedComponents(thin.astype(np.uint8), connectivity=8)
    assert int(np.bincount(lost.reshape(-1))[1:].max(initial=0)) <= SLIVER_PX_MAX


def test_five_flat_color_blocks_give_five_regions_with_exact_colors() -> None:
    art = cbn_artwork(_stripes(FLAT_COLORS), page=page_for("letter"), colors=5, detail="simple")
    art.check()
    assert art.region_count == 5 and art.color_count == 5
    found = {tuple(int(v) for v in color) for color in art.palette_rgb}
    assert found == {tuple(int(v) for v in color) for color in FLAT_COLORS}
    middle_row = art.labels[art.labels.shape[0] // 2]
    stripe_colors = art.palette_rgb[art.region_color[middle_row[[0, -1]]]]
    assert np.array_equal(stripe_colors, FLAT_COLORS[[0, -1]])
    _assert_legible(art, "simple")


def test_a_tiny_speck_is_merged_away() -> None:
    photo = _stripes(FLAT_COLORS[:4])
    photo[100:102, 30:32] = (255, 255, 255)  # 2×2 photo px ≈ 1.7 mm on paper: too small for 10
    art = cbn_artwork(photo, page=page_for("letter"), colors=4, detail="standard")
    art.check()
    assert art.region_count == 4
    assert np.array_equal(np.sort(art.region_color), np.arange(4))


def test_fewer_picture_colors_than_asked_still_give_the_exact_count_used_ones_first() -> None:
    art = cbn_artwork(_stripes(FLAT_COLORS[:2]), page=page_for("a4"), colors=6)
    art.check()
    assert art.color_count == 6 and art.region_count == 2
    assert sorted(art.region_color.tolist()) == [0, 1]  # the legend lists 1 and 2
    lab = lab_from_rgb(art.palette_rgb)
    distances = delta_e_2000(lab[:, None], lab[None, :]) + np.eye(6, dtype=np.float32) * 1e3
    assert float(distances.min()) >= JND_DELTA_E - 0.5  # rounding to 8 bits moves a color a bit


@pytest.mark.parametrize("name", PHOTOS)
def test_every_photo_gives_a_valid_artwork_with_exactly_the_asked_colors(name: str) -> None:
    art = _artwork(name)
    art.check()
    assert art.mode == "cbn" and art.numbered and art.ink is None
    assert art.color_count == 12
    assert art.line_width_pt >= 0.75 and art.number_size_pt == NUMBER_SIZE_PT["standard"]
    box = placed_box(_photo(name).shape[:2], page_for("letter"))
    assert art.box == box and art.labels.shape == (box.height, box.width)
    used = np.bincount(art.region_color, minlength=12) > 0
    assert not np.any(used[1:] & ~used[:-1])  # used colors come first: numbers 1..k in use
    if name != "logo":  # the logo is flat art with fewer distinct areas than 12
        assert bool(used.all())


@pytest.mark.parametrize("name", PHOTOS)
def test_every_region_of_a_photo_holds_its_number_clear_of_the_lines(name: str) -> None:
    _assert_legible(_artwork(name), "standard")


@pytest.mark.parametrize(("name", "detail"), [("astronaut", "simple"), ("chelsea", "expert")])
def test_the_number_size_follows_the_detail_level(name: str, detail: Detail) -> None:
    art = _artwork(name, detail)
    art.check()
    assert art.number_size_pt == NUMBER_SIZE_PT[detail]
    _assert_legible(art, detail)


def test_a_larger_detail_level_gives_more_regions() -> None:
    assert _artwork("astronaut", "simple").region_count < _artwork("astronaut").region_count


def test_the_same_photo_twice_gives_identical_artworks_and_leaves_the_photo_untouched() -> None:
    photo = np.array(_photo("coffee"))
    before = photo.copy()
    first = cbn_artwork(photo, page=page_for("letter"), colors=12)
    assert np.array_equal(photo, before)
    second = _artwork("coffee")
    assert np.array_equal(first.labels, second.labels)
    assert np.array_equal(first.region_color, second.region_color)
    assert np.array_equal(first.palette_rgb, second.palette_rgb)
    assert np.array_equal(first.anchors_xy, second.anchors_xy)


@pytest.mark.parametrize("colors", [3, 21])
def test_a_color_count_outside_4_to_20_is_refused(colors: int) -> None:
    with pytest.raises(ValueError, match=r"4\.\.20"):
        cbn_artwork(_stripes(FLAT_COLORS), page=page_for("letter"), colors=colors)


def test_mean_delta_e_is_zero_for_the_photo_itself_and_the_baseline_is_close() -> None:
    photo = _photo("chelsea")
    assert mean_delta_e(photo, photo) == 0.0
    baseline = kmeans_baseline_rgb(photo, colors=12, seed=0, width=451, height=300)
    assert 0.5 < mean_delta_e(baseline, photo) < 8.0


def test_the_blurred_baseline_keeps_the_palette_and_loses_the_fine_detail() -> None:
    photo = _photo("chelsea")
    size = {"colors": 12, "seed": 0, "width": 451, "height": 300}
    sharp = kmeans_baseline_rgb(photo, **size)
    assert np.array_equal(kmeans_baseline_rgb(photo, **size, blur_sigma_px=0.0), sharp)
    blurred = kmeans_baseline_rgb(photo, **size, blur_sigma_px=3.0)
    assert set(map(tuple, blurred.reshape(-1, 3).tolist())) <= set(map(tuple, sharp.reshape(-1, 3).tolist()))
    assert mean_delta_e(blurred, photo) > 1.05 * mean_delta_e(sharp, photo)


def test_the_answer_is_a_recognisable_version_of_the_photo() -> None:
    photo = _photo("chelsea")
    small_answer = resize_rgb(answer_rgb(_artwork("chelsea")), width=451, height=300)
    baseline = kmeans_baseline_rgb(photo, colors=12, seed=0, width=451, height=300)
    assert mean_delta_e(small_answer, photo) < 2.0 * mean_delta_e(baseline, photo)


def test_coffee_keeps_its_regions_and_stays_close_to_plain_k_means() -> None:
    art = _artwork("coffee")
    assert art.region_count >= 25  # 135 measured; merging everything into a few blobs falls below
    photo = _photo("coffee")
    height, width = photo.shape[:2]
    small_answer = resize_rgb(answer_rgb(art), width=width, height=height)
    baseline = kmeans_baseline_rgb(photo, colors=12, seed=0, width=width, height=height)
    assert mean_delta_e(small_answer, photo) < 1.5 * mean_delta_e(baseline, photo)  # 1.35 measured


def test_merging_cheapest_first_leaves_every_region_able_to_hold_its_box() -> None:
    rng = np.random.default_rng(7)
    noise = cv2.resize(rng.integers(0, 4, (12, 16), dtype=np.int32).astype(np.uint8), (160, 120))
    index_map = np.where(rng.random((120, 160)) < 0.05, 4, noise).astype(np.int32)
    labels, _ = components(index_map)
    image = np.zeros((120, 160, 3), dtype=np.float32)
    image[..., 0] = index_map * 20.0
    palette = np.array([[v * 20.0, 0.0, 0.0] for v in range(5)], dtype=np.float32)
    cost = region_costs(labels, image, palette, int(labels.max()) + 1)
    merged, merged_cost = merge_cheapest_first(labels, cost, half_width_px=4, half_height_px=3)
    count = len(merged_cost)
    assert count < int(labels.max()) + 1 and int(merged.max()) == count - 1
    fits = fits_mask(border_mask(merged), half_width_px=4, half_height_px=3)
    assert bool(regions_fitting(merged, fits, count).all())
