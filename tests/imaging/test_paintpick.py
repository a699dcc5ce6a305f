"""Choosing K paints of a set: only the set's paints, the ones the photo is made of, the same every run."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from mosaic.imaging import paintpick
from mosaic.imaging.paintpick import Strategy, paints_lab, pick_paints, rendering_cost
from mosaic.imaging.palettes import PaintSet, find_set, parse_palette

STRATEGIES: tuple[Strategy, ...] = ("greedy_swap", "kmeans_matched")


def _crayons(box: int = 64) -> PaintSet:
    found = find_set(f"crayola-{box}")
    assert found is not None
    return found


def _photo_of(numbers: list[int], pixels_each: int = 500, noise: float = 2.0) -> NDArray[np.float32]:
    """CIELAB samples scattered (±noise) around the given crayons of the 64 box."""
    lab = paints_lab([_crayons().paints[n - 1] for n in numbers])
    rng = np.random.default_rng(7)
    samples = np.repeat(lab, pixels_each, axis=0) + rng.normal(0.0, noise, (len(numbers) * pixels_each, 3))
    return samples.astype(np.float32)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_photo_made_of_six_crayons_gets_exactly_those_six_in_number_order(strategy: Strategy) -> None:
    numbers = [40, 3, 17, 8, 61, 26]
    chosen = pick_paints(_photo_of(numbers), _crayons().paints, colors=6, strategy=strategy)
    assert [p.number for p in chosen] == sorted(numbers)


def test_the_chosen_paints_are_paints_of_the_set_and_the_same_every_run() -> None:
    rng = np.random.default_rng(3)
    samples = rng.uniform([0, -60, -60], [100, 60, 60], (30_000, 3)).astype(np.float32)
    paints = _crayons().paints
    first = pick_paints(samples, paints, colors=12)
    assert len(first) == 12 and all(p in paints for p in first)
    assert [p.number for p in first] == sorted(p.number for p in first)
    assert pick_paints(samples, paints, colors=12) == first


def test_asking_for_the_whole_set_gives_the_whole_set() -> None:
    custom = parse_palette("#ff0000,#00ff00,#0000ff,#ffffff,#000000")
    chosen = pick_paints(_photo_of([1, 2]), custom.paints, colors=5)
    assert chosen == custom.paints


def test_swapping_renders_no_worse_than_adding_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    samples = rng.uniform([0, -60, -60], [100, 60, 60], (5_000, 3)).astype(np.float32)
    paints = _crayons().paints
    chosen = pick_paints(samples, paints, colors=8)
    monkeypatch.setattr(paintpick, "SWAP_ROUNDS_MAX", 0)
    added = pick_paints(samples, paints, colors=8)
    assert rendering_cost(samples, chosen) <= rendering_cost(samples, added)


def test_a_paint_nearest_to_nothing_is_chosen_for_being_nearest_the_photo_not_for_its_number() -> None:
    # Two greys: after Black, Gray and White nothing is nearer to any other crayon; the fourth
    # pick must be the crayon closest to the photo overall (a grey-ish one), not Red (number 1).
    numbers = [8, 23, 16]  # Black, Gray, White
    chosen = pick_paints(_photo_of(numbers, noise=0.0), _crayons().paints, colors=4)
    names = [p.name for p in chosen]
    assert {"Black", "Gray", "White"} <= set(names) and "Red" not in names
