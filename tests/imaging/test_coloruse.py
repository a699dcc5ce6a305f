from __future__ import annotations

import numpy as np

from mosaic.imaging.coloruse import every_color_used, used_first


def test_an_unused_color_takes_the_region_that_loses_least_by_switching() -> None:
    cost = np.array([[0.0, 5.0, 9.0], [0.0, 1.0, 9.0], [0.0, 9.0, 2.0], [9.0, 0.0, 9.0]])
    kept = cost.copy()
    assert every_color_used(cost).tolist() == [0, 0, 2, 1]
    assert np.array_equal(cost, kept)


def test_a_color_stays_unused_when_no_color_has_a_region_to_spare() -> None:
    cost = np.array([[0.0, 5.0, 1.0], [5.0, 0.0, 1.0]])
    assert every_color_used(cost).tolist() == [0, 1]


def test_colors_in_use_are_numbered_first_each_group_dark_to_light() -> None:
    palette = np.array([[80.0, 0.0, 0.0], [20.0, 0.0, 0.0], [50.0, 0.0, 0.0]], dtype=np.float32)
    ordered, region_color = used_first(palette, np.array([0, 2, 0], dtype=np.int32))
    assert ordered[:, 0].tolist() == [50.0, 80.0, 20.0]
    assert region_color.tolist() == [1, 0, 1]
