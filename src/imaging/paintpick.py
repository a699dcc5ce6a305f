"""Choosing the K paints of a set of N that best render a photo, in CIELAB.

The photo's colours (with weights, e.g. pixel counts or cell areas) are served by their nearest
chosen paint; the best K paints minimise the weighted sum of those distances (ΔE76), the cost the
colour-by-number merges also use. That is a K-medoids problem whose candidates are the paints:

- `greedy_swap` (the default) adds the paint that lowers the cost most, K times, then swaps a chosen
  paint for an unchosen one while a swap still lowers it (PAM's swap step, on the paints only);
- `kmeans_matched` runs the palette k-means and gives each centre its own nearest paint (an optimal
  one-to-one assignment); kept to compare against (bench/paints.py measures both on the fixtures).

Deterministic: the same samples, weights, paints and seed give the same paints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from mosaic.imaging.color import lab_from_rgb, palette_kmeans
from mosaic.imaging.palettes import Paint

PICK_SAMPLES_MAX: Final = 20_000  # a deterministic subsample bounds the cost of any photo
SWAP_ROUNDS_MAX: Final = 32
SWAP_GAIN_MIN: Final = 1e-9  # relative: a swap must lower the cost by more than rounding
Strategy = Literal["greedy_swap", "kmeans_matched"]


def paints_lab(paints: Sequence[Paint]) -> NDArray[np.float32]:
    """(N, 3) float32 CIELAB of the paints' sRGB values."""
    return lab_from_rgb(np.array([p.rgb for p in paints], dtype=np.uint8))


def pick_paints(
    samples_lab: NDArray[np.float32],
    paints: Sequence[Paint],
    *,
    colors: int,
    weights: NDArray[np.float32] | None = None,
    seed: int = 0,
    strategy: Strategy = "greedy_swap",
) -> tuple[Paint, ...]:
    """The `colors` paints of `paints` that best render the samples, in number order.

    Parameters
    ----------
    samples_lab
        (M, 3) float32 CIELAB, M ≥ 1; not modified.
    paints
        The set to choose from, `colors` ≤ len(paints).
    colors
        How many paints to choose.
    weights
        (M,) non-negative weights, or None for equal weights.
    seed
        Seeds the subsample (and k-means): same input, same paints.
    strategy
        `greedy_swap` or `kmeans_matched` (see the module's docstring).
    """
    assert 1 <= colors <= len(paints), (colors, len(paints))
    if colors == len(paints):
        return tuple(sorted(paints, key=lambda p: p.number))
    points, w = _subsample(samples_lab, weights, seed)
    candidates = paints_lab(paints).astype(np.float64)
    if strategy == "greedy_swap":
        chosen = _greedy_swap(cdist(points, candidates), w, colors)
    else:
        centres = palette_kmeans(
            points.astype(np.float32), colors=colors, seed=seed, weights=w.astype(np.float32)
        )
        _, columns = linear_sum_assignment(cdist(centres.astype(np.float64), candidates))
        chosen = [int(c) for c in columns]
    return tuple(sorted((paints[i] for i in chosen), key=lambda p: p.number))


def rendering_cost(
    samples_lab: NDArray[np.float32], chosen: Sequence[Paint], weights: NDArray[np.float32] | None = None
) -> float:
    """Weighted mean ΔE76 from each sample to its nearest chosen paint (what `pick_paints` lowers)."""
    w = np.ones(len(samples_lab)) if weights is None else np.asarray(weights, dtype=np.float64)
    points = np.asarray(samples_lab, dtype=np.float64)
    distance = cdist(points, paints_lab(chosen).astype(np.float64)).min(axis=1)
    return float(np.sum(w * distance) / np.sum(w))


def _subsample(
    samples: NDArray[np.float32], weights: NDArray[np.float32] | None, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """At most `PICK_SAMPLES_MAX` samples, equal colours folded into one weighted point."""
    assert samples.ndim == 2 and samples.shape[1] == 3 and samples.shape[0] >= 1
    w = np.ones(samples.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    assert w.shape == (samples.shape[0],) and bool(np.all(w >= 0)) and float(w.sum()) > 0
    points = np.asarray(samples, dtype=np.float64)
    if len(points) > PICK_SAMPLES_MAX:
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(len(points), size=PICK_SAMPLES_MAX, replace=False))
        points, w = points[chosen], w[chosen]
    unique, inverse = np.unique(points, axis=0, return_inverse=True)
    folded = np.bincount(inverse.reshape(-1), weights=w, minlength=len(unique)).astype(np.float64)
    present = folded > 0
    return unique[present], folded[present]


def _greedy_swap(distance: NDArray[np.float64], w: NDArray[np.float64], k: int) -> list[int]:
    """Indices of k columns of `distance` (M×N) minimising Σ w·min over the chosen columns."""
    n = distance.shape[1]
    chosen: list[int] = []
    nearest = np.full(distance.shape[0], np.inf)
    # A paint that is nearest to nothing yet gains nothing; among such, the one nearest the photo
    # overall is the least wrong where it must be used (then the lower number).
    closeness = (w[:, None] * distance).sum(axis=0)
    for _ in range(k):
        cost = (w[:, None] * np.minimum(nearest[:, None], distance)).sum(axis=0)
        cost[chosen] = np.inf
        pick = int(np.lexsort((np.arange(n), closeness, cost))[0])
        chosen.append(pick)
        nearest = np.minimum(nearest, distance[:, pick])
    total = float(np.sum(w * nearest))
    for _ in range(SWAP_ROUNDS_MAX):
        columns = distance[:, chosen]
        order = np.argsort(columns, axis=1, kind="stable")
        first = np.take_along_axis(columns, order[:, :1], axis=1)[:, 0]
        if k > 1:
            second = np.take_along_axis(columns, order[:, 1:2], axis=1)[:, 0]
        else:
            second = np.full_like(first, np.inf)
        unused = np.array([j for j in range(n) if j not in chosen])
        best_gain, best_swap = SWAP_GAIN_MIN * max(total, 1.0), None
        for slot in range(k):
            # Without chosen[slot], each sample falls back to its second nearest if slot was its nearest.
            without = np.where(order[:, 0] == slot, second, first)
            costs = (w[:, None] * np.minimum(without[:, None], distance[:, unused])).sum(axis=0)
            j = int(np.argmin(costs))
            gain = total - float(costs[j])
            if gain > best_gain:
                best_gain, best_swap = gain, (slot, int(unused[j]))
        if best_swap is None:
            break
        chosen[best_swap[0]] = best_swap[1]
        total = float(np.sum(w * distance[:, chosen].min(axis=1)))
    return chosen
