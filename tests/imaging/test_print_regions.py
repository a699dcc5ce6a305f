"""The print-resolution steps work region by region, on bounding boxes or tiles: each gives what the
whole-map computation it replaces gives (written out here as the reference), on label maps with
slivers, split regions, regions at the frame and regions inside others."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage

from mosaic.imaging.placement import NumberRoom, anchors_xy
from mosaic.imaging.regions import (
    adjacency,
    adjacency_of,
    border_mask,
    every_region_pole,
    fits_mask,
    merge_until_fitting,
    region_bounds,
    region_poles,
    regions_fitting,
    without_thin_parts,
)
from mosaic.imaging.upsample import split_pieces, split_regions

SEEDS = (0, 1, 2)


def _cells(seed: int, *, height: int = 180, width: int = 260, count: int = 40) -> np.ndarray:
    """A Voronoi map of `count` cells with ragged borders, 0..count-1; a few cells share a label
    with a far one (a region in two pieces)."""
    rng = np.random.default_rng(seed)
    ys, xs = rng.uniform(0, height, count), rng.uniform(0, width, count)
    grid_y, grid_x = np.mgrid[0:height, 0:width]
    noise = rng.normal(0.0, 2.0, (height, width))
    distance = (grid_y[None] - ys[:, None, None]) ** 2 + (grid_x[None] - xs[:, None, None]) ** 2
    labels = np.argmin(distance + 40.0 * noise[None], axis=0).astype(np.int32)
    labels[labels == count - 1] = 0  # region 0 in (at least) two pieces
    labels[labels == count - 2] = 3
    return labels


def _compact(labels: np.ndarray) -> tuple[np.ndarray, int]:
    values, compact = np.unique(labels, return_inverse=True)
    return compact.reshape(labels.shape).astype(np.int32), len(values)


def _thin_reference(index_map: np.ndarray, square_px: int) -> np.ndarray:
    """The opening over the whole map at once."""
    height, width = index_map.shape
    across = np.zeros(index_map.shape, np.uint8)
    down = np.zeros(index_map.shape, np.uint8)
    across[:, :-1] = index_map[:, :-1] == index_map[:, 1:]
    down[:-1, :] = index_map[:-1, :] == index_map[1:, :]
    uniform = cv2.erode(across, np.ones((square_px, square_px - 1), np.uint8), anchor=(0, 0)) & cv2.erode(
        down, np.ones((square_px - 1, square_px), np.uint8), anchor=(0, 0)
    )
    uniform[height - square_px + 1 :, :] = 0
    uniform[:, width - square_px + 1 :] = 0
    covered = cv2.dilate(uniform, np.ones((square_px, square_px), np.uint8), anchor=(square_px - 1,) * 2)
    thin = (covered == 0).astype(np.uint8)
    if not thin.any() or thin.all():
        return index_map.copy()
    nearest = cv2.distanceTransformWithLabels(thin, cv2.DIST_L2, cv2.DIST_MASK_5, labelType=cv2.DIST_LABEL_PIXEL)[1]
    return np.concatenate([np.zeros(1, np.int32), index_map[thin == 0]])[nearest]


def _anchors_reference(labels: np.ndarray, count: int, room: NumberRoom) -> np.ndarray:
    border = border_mask(labels)
    fits = fits_mask(border, half_width_px=room.half_width_px, half_height_px=room.half_height_px)
    score = cv2.distanceTransform((~border).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5)
    score[~fits] = -1.0
    out = np.zeros((count, 2), np.float32)
    for index, found in enumerate(ndimage.find_objects(labels + 1, max_label=count)):
        inside = np.where(labels[found] == index, score[found], -2.0)
        row, col = np.unravel_index(int(np.argmax(inside)), inside.shape)
        out[index] = (found[1].start + col + 0.5, found[0].start + row + 0.5)
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_opening_tile_by_tile_gives_the_whole_map_opening(seed: int) -> None:
    labels = _cells(seed)
    rng = np.random.default_rng(seed)
    labels[rng.integers(0, 180, 300), rng.integers(0, 260, 300)] = 7  # specks everywhere
    labels[100:103, :] = 5  # a three-pixel stripe stays, a two-pixel one goes
    labels[40:42, 10:200] = 9
    opened = without_thin_parts(labels, square_px=3)
    assert not np.array_equal(opened, labels)
    assert np.array_equal(opened, _thin_reference(labels, 3))


def test_opening_patches_with_no_square_of_one_value_still_gives_the_whole_map_opening() -> None:
    labels = _cells(4)
    checker = (np.indices((40, 40)).sum(axis=0) % 2).astype(np.int32)
    labels[60:100, 90:130] = 11 + checker  # its middle is far from any kept pixel
    labels[58:67, 120:133] = 11 + checker[:9, :13]  # a few pixels from one, across tile edges
    assert np.array_equal(without_thin_parts(labels, square_px=3), _thin_reference(labels, 3))


def _assert_split_as_whole_map_labelling(labels: np.ndarray) -> None:
    pieces = split_regions(labels, int(labels.max()) + 1)
    expected, origin = split_pieces(labels)
    count = len(origin)
    assert np.array_equal(pieces.labels, expected) and np.array_equal(pieces.origin, origin)
    assert np.array_equal(pieces.bounds, region_bounds(expected, count))
    assert np.array_equal(pieces.area, np.bincount(expected.reshape(-1), minlength=count))


@pytest.mark.parametrize("seed", SEEDS)
def test_splitting_run_by_run_numbers_the_pieces_as_the_whole_map_labelling(seed: int) -> None:
    labels = _cells(seed)
    labels[labels == 5] = 1  # some values now absent
    assert len(split_pieces(labels)[1]) > len(np.unique(labels))
    _assert_split_as_whole_map_labelling(labels)


def test_spirals_combs_and_maps_one_pixel_wide_split_as_the_whole_map_labelling() -> None:
    spiral = np.zeros((41, 41), np.int32)  # a region joined only far from where its rows start
    for ring in range(0, 20, 4):
        spiral[ring, ring : 41 - ring] = spiral[40 - ring, ring : 41 - ring] = 1
        spiral[ring : 41 - ring, ring] = spiral[ring : 41 - ring, 40 - ring] = 1
        spiral[ring + 1, ring] = 0  # each ring opened, then joined to the next one in
        spiral[ring + 1, ring + 1 : ring + 3] = 1
    comb = np.zeros((12, 30), np.int32)
    comb[:, ::2] = 2  # teeth joined at the bottom row only: one piece per value
    comb[-1, :] = 2
    checker = (np.indices((9, 11)).sum(axis=0) % 2).astype(np.int32)  # every pixel its own piece
    for labels in (spiral, comb, checker, comb[:, :1], comb[:1, :], np.zeros((1, 1), np.int32)):
        _assert_split_as_whole_map_labelling(labels)


@pytest.mark.parametrize("seed", SEEDS)
def test_checking_each_region_on_its_bounds_agrees_with_the_whole_map_check(seed: int) -> None:
    labels, count = _compact(split_pieces(_cells(seed))[0])
    bounds = region_bounds(labels, count)
    expected = regions_fitting(labels, fits_mask(border_mask(labels), half_width_px=6, half_height_px=4), count)
    holding, poles = region_poles(labels, bounds, np.arange(count), half_width_px=6, half_height_px=4)
    assert not expected.all() and expected.any()
    assert np.array_equal(holding, expected)
    assert np.array_equal(np.isnan(poles[:, 0]), ~expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_poles_of_every_region_at_once_are_the_whole_map_poles(seed: int) -> None:
    labels, count = _compact(split_pieces(_cells(seed, count=60))[0])
    holding, poles = every_region_pole(labels, count, half_width_px=6, half_height_px=4)
    expected = regions_fitting(labels, fits_mask(border_mask(labels), half_width_px=6, half_height_px=4), count)
    assert not expected.all() and expected.any()
    assert np.array_equal(holding, expected)
    assert np.array_equal(poles[holding], _anchors_reference(labels, count, NumberRoom(6, 4))[holding])
    assert np.isnan(poles[~holding]).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_the_neighbours_of_some_regions_are_those_of_the_whole_map(seed: int) -> None:
    labels, count = _compact(split_pieces(_cells(seed))[0])
    some = np.array([0, 3, 4, count - 1])
    found = adjacency_of(labels, region_bounds(labels, count), some)
    whole = adjacency(labels, count)
    chosen = np.isin(whole.first, some)
    assert np.array_equal(found.first, whole.first[chosen])
    assert np.array_equal(found.second, whole.second[chosen])
    assert np.array_equal(found.border_px, whole.border_px[chosen])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("join_same_color", [False, True])
def test_merged_regions_are_whole_pieces_holding_their_numbers_at_the_whole_map_pole(
    seed: int, join_same_color: bool
) -> None:
    pieces, _ = split_pieces(_cells(seed))
    count = int(pieces.max()) + 1
    rng = np.random.default_rng(seed)
    colors = rng.integers(0, 4, count).astype(np.int32)
    labels, merged_colors, _, poles = merge_until_fitting(
        pieces,
        region_color=colors,
        region_lab=rng.uniform(0, 100, (count, 3)),
        half_width_px=8,
        half_height_px=6,
        join_same_color=join_same_color,
    )
    merged = len(merged_colors)
    assert 1 < merged < count
    assert np.array_equal(np.unique(labels), np.arange(merged))
    into = np.zeros(count, np.int64)
    into[pieces.reshape(-1)] = labels.reshape(-1)
    assert np.array_equal(into[pieces], labels), "each piece lies in one region"
    assert np.array_equal(np.isnan(poles[:, 0]), np.zeros(merged, bool))
    assert np.array_equal(poles, _anchors_reference(labels, merged, NumberRoom(8, 6)))
    pairs = adjacency(labels, merged)
    same = merged_colors[pairs.first] == merged_colors[pairs.second]
    assert bool(same.any()) != join_same_color, "joined neighbours of one color, and only when asked"


@pytest.mark.parametrize("seed", SEEDS)
def test_placing_numbers_region_by_region_picks_the_whole_map_pole(seed: int) -> None:
    pieces, _ = split_pieces(_cells(seed))
    count = int(pieces.max()) + 1
    room = NumberRoom(3, 2)
    labels, colors, _, poles = merge_until_fitting(  # every region holds its number
        pieces,
        region_color=np.arange(count, dtype=np.int32),
        region_lab=np.random.default_rng(seed).uniform(0, 100, (count, 3)),
        half_width_px=room.half_width_px,
        half_height_px=room.half_height_px,
        join_same_color=False,
    )
    count = len(colors)
    expected = _anchors_reference(labels, count, room)
    assert np.array_equal(anchors_xy(labels, count, room=room), expected)
    assert np.array_equal(poles, expected)  # the merge's own, kept from round to round
