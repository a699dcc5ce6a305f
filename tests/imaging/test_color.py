from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mosaic.imaging.color import (
    JND_DELTA_E,
    delta_e_2000,
    lab_from_rgb,
    lightness_from_rgb,
    nearest_palette_index,
    palette_kmeans,
    quick_lab_from_rgb,
    rgb_from_lab,
    rgb_u8_from_lab,
)

IMAGES = Path(__file__).resolve().parents[1] / "fixtures" / "images"

# Sharma, Wu and Dalal (2005), "The CIEDE2000 color-difference formula", table 1 (a selection).
SHARMA_PAIRS = [
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, -1.3802, -84.2814), (50.0, 0.0, -82.7485), 1.0000),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.49, -0.001), (50.0, -2.49, 0.0011), 7.2195),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((50.0, 2.5, 0.0), (50.0, 3.1736, 0.5854), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((22.7233, 20.0904, -46.694), (23.0331, 14.973, -42.5619), 2.0373),
    ((90.8027, -2.0831, 1.441), (91.1528, -1.6435, 0.0447), 1.4441),
    ((2.0776, 0.0795, -1.135), (0.9033, -0.0636, -0.5514), 0.9082),
]


def _photo_lab(name: str) -> np.ndarray:
    with Image.open(IMAGES / name) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return lab_from_rgb(rgb).reshape(-1, 3)


def _pairwise_min_delta_e(palette: np.ndarray) -> float:
    distances = delta_e_2000(palette[:, None, :], palette[None, :, :])
    distances[np.arange(len(palette)), np.arange(len(palette))] = np.inf
    return float(distances.min())


def test_lab_of_known_colors_matches_the_cie_values() -> None:
    rgb = np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 0, 255]], dtype=np.uint8)
    expected = np.array([[100.0, 0.0, 0.0], [0.0, 0.0, 0.0], [53.24, 80.09, 67.20], [32.30, 79.19, -107.86]])
    assert np.allclose(lab_from_rgb(rgb), expected, atol=0.05)


def test_every_8_bit_color_survives_the_round_trip_through_lab() -> None:
    values = np.arange(0, 256, 5, dtype=np.uint8)
    rgb = np.stack(np.meshgrid(values, values, values, indexing="ij"), axis=-1).reshape(-1, 3)
    assert np.array_equal(rgb_u8_from_lab(lab_from_rgb(rgb)), rgb)
    assert rgb_from_lab(lab_from_rgb(rgb)).dtype == np.float32


def test_quick_lab_and_lightness_agree_with_lab_to_float32_rounding() -> None:
    values = np.arange(0, 256, 3, dtype=np.uint8)  # includes 0 and 255, and dark levels below ε
    rgb = np.stack(np.meshgrid(values, values, values, indexing="ij"), axis=-1)  # (86, 86, 86, 3)
    reference = lab_from_rgb(rgb)
    quick = quick_lab_from_rgb(rgb)
    assert quick.dtype == np.float32 and quick.shape == rgb.shape
    assert float(np.abs(quick - reference).max()) <= 5e-4
    lightness = lightness_from_rgb(rgb)
    assert lightness.dtype == np.float32 and lightness.shape == rgb.shape[:-1]
    assert float(np.abs(lightness - reference[..., 0]).max()) <= 5e-4
    assert quick_lab_from_rgb(rgb[0, 0, 0]).shape == (3,)  # one color, and (..., 3) shapes


@pytest.mark.parametrize(("lab1", "lab2", "expected"), SHARMA_PAIRS)
def test_delta_e_2000_matches_the_published_test_data(
    lab1: tuple[float, float, float], lab2: tuple[float, float, float], expected: float
) -> None:
    value = delta_e_2000(np.array(lab1, np.float32), np.array(lab2, np.float32))
    assert abs(float(value) - expected) < 1e-3
    assert abs(float(delta_e_2000(np.array(lab2, np.float32), np.array(lab1, np.float32))) - expected) < 1e-3


def test_delta_e_2000_broadcasts_and_does_not_touch_its_inputs() -> None:
    a = np.zeros((4, 1, 3), np.float32)
    b = np.ones((1, 5, 3), np.float32)
    before = b.copy()
    assert delta_e_2000(a, b).shape == (4, 5)
    assert np.array_equal(b, before)


def test_the_nearest_palette_index_picks_the_closest_color() -> None:
    palette = np.array([[10, 0, 0], [50, 0, 0], [90, 0, 0]], np.float32)
    lab = np.array([[[12, 1, 1], [88, 0, 0]], [[49, 5, -5], [71, 0, 0]]], np.float32)
    index = nearest_palette_index(lab, palette)
    assert index.dtype == np.int32
    assert index.tolist() == [[0, 2], [1, 2]]


def test_five_flat_colors_give_exactly_those_five_colors() -> None:
    rgb = np.array([[230, 30, 40], [20, 160, 60], [30, 60, 200], [250, 220, 40], [25, 25, 25]], np.uint8)
    samples = lab_from_rgb(np.repeat(rgb, [400, 300, 200, 100, 50], axis=0))
    palette = palette_kmeans(samples, colors=5, seed=3)
    assert palette.shape == (5, 3) and palette.dtype == np.float32
    found = {tuple(int(v) for v in color) for color in rgb_u8_from_lab(palette)}
    assert found == {tuple(int(v) for v in color) for color in rgb}


def test_asking_for_more_colors_than_the_picture_has_still_gives_the_exact_count() -> None:
    samples = lab_from_rgb(np.repeat(np.array([[200, 40, 40], [40, 40, 200]], np.uint8), 50, 0))
    palette = palette_kmeans(samples, colors=9, seed=0)
    assert palette.shape == (9, 3)
    assert _pairwise_min_delta_e(palette) >= JND_DELTA_E
    assert np.min(delta_e_2000(samples[:1], palette)) < 0.5  # the real colors are kept


def test_a_flat_grey_picture_still_gets_twenty_distinct_colors() -> None:
    palette = palette_kmeans(lab_from_rgb(np.full((10, 3), 128, np.uint8)), colors=20, seed=0)
    assert palette.shape == (20, 3)
    assert _pairwise_min_delta_e(palette) >= JND_DELTA_E


@pytest.mark.parametrize("name", ["astronaut.png", "coffee.png", "camera.png"])
@pytest.mark.parametrize("colors", [4, 12, 20])
def test_photo_palettes_have_the_exact_count_a_jnd_apart_ordered_by_lightness(name: str, colors: int) -> None:
    palette = palette_kmeans(_photo_lab(name), colors=colors, seed=0)
    assert palette.shape == (colors, 3)
    assert _pairwise_min_delta_e(palette) >= JND_DELTA_E
    assert np.all(np.diff(palette[:, 0]) >= 0)


def test_the_same_seed_gives_the_same_palette_and_the_input_is_untouched() -> None:
    samples = _photo_lab("chelsea.png")
    before = samples.copy()
    first = palette_kmeans(samples, colors=12, seed=7)
    assert np.array_equal(first, palette_kmeans(samples, colors=12, seed=7))
    assert np.array_equal(samples, before)


def test_weights_pull_the_palette_toward_the_heavy_samples() -> None:
    samples = np.array([[20, 0, 0], [40, 0, 0], [80, 0, 0]], np.float32)
    weights = np.array([1.0, 1000.0, 1.0], np.float32)
    palette = palette_kmeans(samples, colors=1, seed=0, weights=weights)
    assert abs(float(palette[0, 0]) - 40.0) < 0.2
