"""Paint picking benchmark: which K paints of a set render each fixture photo best, by two strategies.

Run: `.venv/bin/python bench/paints.py` (about a minute on the 2-core reference machine).

For every PNG fixture photo, every named set and K in `KS` (K below the set's size), both
strategies of `mosaic.imaging.paintpick` choose K paints from the photo's CIELAB pixels (the photo
decoded at `PHOTO_SIDE_PX`); each pixel is then painted with its nearest chosen paint (ΔE76, as the
modes do) and the mean CIEDE2000 of the result is printed, with the pick's wall time. The last
lines give the mean ΔE00 of each strategy over all cases, the ratio greedy_swap / kmeans_matched,
and how many cases each one won.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.color import delta_e_2000, lab_from_rgb, nearest_palette_index
from mosaic.imaging.decode import decode_photo
from mosaic.imaging.paintpick import Strategy, paints_lab, pick_paints
from mosaic.imaging.palettes import Paint, catalogue

IMAGES: Final = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "images"
PHOTO_SIDE_PX: Final = 400
KS: Final = (6, 12, 20)
STRATEGIES: Final[tuple[Strategy, ...]] = ("greedy_swap", "kmeans_matched")


def mean_delta_e(lab: NDArray[np.float32], chosen: tuple[Paint, ...]) -> float:
    palette = paints_lab(chosen)
    nearest = nearest_palette_index(lab, palette)
    return float(delta_e_2000(lab, palette[nearest]).mean())


def main() -> None:
    results: dict[Strategy, list[float]] = {s: [] for s in STRATEGIES}
    seconds: dict[Strategy, float] = dict.fromkeys(STRATEGIES, 0.0)
    wins = dict.fromkeys(STRATEGIES, 0)
    print(f"{'photo':<10} {'set':<22} {'K':>3}  " + "  ".join(f"{s + ' ΔE00':>20}" for s in STRATEGIES))
    for path in sorted(IMAGES.glob("*.png")):
        lab = lab_from_rgb(decode_photo(path.read_bytes(), max_side_px=PHOTO_SIDE_PX)).reshape(-1, 3)
        for paint_set in catalogue():
            for k in (k for k in KS if k < paint_set.size):
                row = {}
                for strategy in STRATEGIES:
                    start = time.perf_counter()
                    chosen = pick_paints(lab, paint_set.paints, colors=k, strategy=strategy)
                    seconds[strategy] += time.perf_counter() - start
                    row[strategy] = mean_delta_e(lab, chosen)
                    results[strategy].append(row[strategy])
                best = min(row.values())
                for strategy in STRATEGIES:
                    wins[strategy] += row[strategy] <= best + 1e-9
                cells = "  ".join(f"{row[s]:>20.2f}" for s in STRATEGIES)
                print(f"{path.stem:<10} {paint_set.id:<22} {k:>3}  {cells}")
    cases = len(results[STRATEGIES[0]])
    for strategy in STRATEGIES:
        print(
            f"{strategy}: mean ΔE00 {np.mean(results[strategy]):.3f} over {cases} cases, "
            f"best or tied in {wins[strategy]}, {seconds[strategy] / cases * 1000:.0f} ms a pick"
        )
    ratio = float(np.mean(results["greedy_swap"]) / np.mean(results["kmeans_matched"]))
    print(f"ratio greedy_swap / kmeans_matched (mean ΔE00): {ratio:.3f}")


if __name__ == "__main__":
    main()
