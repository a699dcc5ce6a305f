"""Region cost vectors in CIEDE2000 (`merging.Ciede2000Costs`), the measure pages are judged by."""

from __future__ import annotations

import numpy as np

from mosaic.imaging.color import delta_e_2000
from mosaic.imaging.merging import Ciede2000Costs, region_costs

RED = (50.0, 60.0, 40.0)
MORE_SATURATED = (50.0, 75.0, 50.0)  # ΔE76 18.0 from RED, CIEDE2000 about 4
DARKER = (40.0, 60.0, 40.0)  # ΔE76 10.0 from RED, CIEDE2000 about 9


def _noisy_image(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    lab = np.empty((*shape, 3), dtype=np.float32)
    lab[..., 0] = rng.uniform(5.0, 95.0, shape)
    lab[..., 1:] = rng.uniform(-60.0, 60.0, (*shape, 2))
    return lab


def test_the_summed_ciede2000_of_each_region_matches_a_pixel_by_pixel_sum() -> None:
    rng = np.random.default_rng(4)
    image = _noisy_image(rng, (60, 80))
    labels = (np.arange(60)[:, None] // 20 * 4 + np.arange(80)[None, :] // 20).astype(np.int32)
    palette = _noisy_image(rng, (1, 5)).reshape(5, 3)
    got = Ciede2000Costs(image)(labels, palette, 12)
    direct = np.stack(
        [np.bincount(labels.reshape(-1), weights=delta_e_2000(image.reshape(-1, 3), c[None, :])) for c in palette],
        axis=1,
    )
    # Each pixel's color is rounded to 1 unit of CIELAB (at most 0.87 ΔE76 off): per region of
    # 400 pixels the sums agree far closer than that, the roundings cancelling.
    assert np.abs(got - direct).max() / 400 < 0.1
    assert np.array_equal(np.argmin(got, axis=1), np.argmin(direct, axis=1))


def test_a_saturated_region_takes_the_color_ciede2000_calls_nearer_not_the_one_de76_does() -> None:
    image = np.broadcast_to(np.array(RED, dtype=np.float32), (10, 10, 3)).copy()
    labels = np.zeros((10, 10), dtype=np.int32)
    palette = np.array([MORE_SATURATED, DARKER], dtype=np.float32)
    assert int(np.argmin(region_costs(labels, image, palette, 1))) == 1
    assert int(np.argmin(Ciede2000Costs(image)(labels, palette, 1))) == 0


def test_each_pixels_distance_to_its_own_palette_color_is_its_ciede2000() -> None:
    rng = np.random.default_rng(9)
    image = _noisy_image(rng, (30, 30))
    palette = _noisy_image(rng, (1, 4)).reshape(4, 3)
    pixel_color = rng.integers(0, 4, 900).astype(np.int32)
    got = Ciede2000Costs(image).pixel_distances(palette, pixel_color)
    direct = delta_e_2000(image.reshape(-1, 3), palette[pixel_color])
    assert got.shape == (900,) and float(np.abs(got - direct).max()) < 1.0


def test_ciede2000_in_float32_agrees_with_float64() -> None:
    rng = np.random.default_rng(2)
    a, b = _noisy_image(rng, (100, 100)), _noisy_image(rng, (100, 100))
    assert float(np.abs(delta_e_2000(a, b, single=True) - delta_e_2000(a, b)).max()) < 1e-3
