"""How hard a page is to color: what it asks of the colorer, an estimated time, and one word.

The report is measured from any region (cell) list, whatever made it: the label map's areas, the
regions' colors, the printed number size and the line weight. So a mode or a level added later is
reported by the same rules, with no change here.

The time model (`SECONDS_PER_REGION`, `SECONDS_PER_CM2`): each region costs a fixed time (find its
number, pick up the color, go round its edge) and every cm² painted costs the same again, so

    minutes = (regions × 5 s + painted cm² × 4 s) / 60.

The word is the hardest of the readings that apply, each on the scale easy < standard < detailed <
expert:

- work: the model's seconds per dm² of picture (so a small or oddly shaped picture is not called
  easier for being small) against `WORK_SECONDS_PER_DM2`;
- print, for a numbered page: its smallest number against `NUMBER_PT_AT_LEAST`;
- lines, for a coloring page without numbers: its line weight against `LINE_PT_AT_LEAST`.

The thresholds sit between the levels the modes offer, so the word matches the level asked for:
mosaics differ mostly in how many cells there are, color by number in how small its numbers are,
coloring pages in how fine their lines are.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.artwork import Artwork, mm_from_px

DifficultyWord = Literal["easy", "standard", "detailed", "expert"]
WORDS: Final[tuple[DifficultyWord, ...]] = ("easy", "standard", "detailed", "expert")
SECONDS_PER_REGION: Final = 5.0
SECONDS_PER_CM2: Final = 4.0
# Each reading takes the word of the first bound it reaches, else the word past the last bound.
WORK_SECONDS_PER_DM2: Final[tuple[tuple[float, DifficultyWord], ...]] = (
    (2200.0, "expert"), (1375.0, "detailed"), (900.0, "standard"),
)
NUMBER_PT_AT_LEAST: Final[tuple[tuple[float, DifficultyWord], ...]] = (  # a number at least this big
    (9.5, "easy"), (7.5, "standard"), (6.5, "detailed"),
)
LINE_PT_AT_LEAST: Final[tuple[tuple[float, DifficultyWord], ...]] = (  # lines at least this heavy
    (2.5, "easy"), (1.75, "standard"), (1.0, "detailed"),
)
MODEL_TEXT: Final = (
    f"minutes = (regions × {SECONDS_PER_REGION:g} s + painted cm² × {SECONDS_PER_CM2:g} s) / 60; the word is "
    "the hardest of: seconds per dm² (≥ 900 standard, ≥ 1375 detailed, ≥ 2200 expert), the smallest number "
    "(< 9.5 pt standard, < 7.5 detailed, < 6.5 expert) and, without numbers, the line weight (< 2.5 pt "
    "standard, < 1.75 detailed, < 1 expert)"
)


@dataclass(frozen=True, slots=True)
class Difficulty:
    """What a page asks of the colorer; sizes on paper."""

    regions: int
    smallest_region_mm2: float
    smallest_number_pt: float | None  # None: a page without numbers
    line_width_pt: float
    colors_used: int
    painted_cm2: float
    minutes: float
    word: DifficultyWord

    def document(self, unit: str) -> dict[str, Any]:
        """The JSON-ready report, `unit` naming what the regions are (cells, regions, areas)."""
        return {
            "word": self.word,
            "unit": unit,
            "regions": self.regions,
            "smallest_region_mm2": round(self.smallest_region_mm2, 1),
            "smallest_number_pt": self.smallest_number_pt,
            "line_width_pt": self.line_width_pt,
            "colors_used": self.colors_used,
            "painted_cm2": round(self.painted_cm2, 1),
            "estimated_minutes": round(self.minutes),
            "model": {
                "seconds_per_region": SECONDS_PER_REGION,
                "seconds_per_cm2": SECONDS_PER_CM2,
                "text": MODEL_TEXT,
            },
        }

    def summary(self, unit: str) -> str:
        """One line for a footer: `standard: 712 cells, smallest 45 sq mm, 9 pt, 12 used, ~1 h 25 min (…)`.

        Plain letters for the units: the raster pages' font has no superscript two."""
        parts = [f"{self.regions} {unit}", f"smallest {self.smallest_region_mm2:.0f} sq mm"]
        if self.smallest_number_pt is not None:
            parts.append(f"{self.smallest_number_pt:g} pt")
        parts += [f"{self.colors_used} used", f"~{_duration(self.minutes)}"]
        model = f"{SECONDS_PER_REGION:g} s each + {SECONDS_PER_CM2:g} s per sq cm"
        return f"{self.word}: {', '.join(parts)} ({model})"


def _duration(minutes: float) -> str:
    whole = max(1, round(minutes))
    hours, rest = divmod(whole, 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def _reading(value: float, bounds: tuple[tuple[float, DifficultyWord], ...], below: DifficultyWord) -> int:
    """The index in WORDS of the word of the first bound `value` reaches, else of `below`."""
    for bound, word in bounds:
        if value >= bound:
            return WORDS.index(word)
    return WORDS.index(below)


def measure(
    region_areas_px: NDArray[np.int64],
    region_color: NDArray[np.int32],
    *,
    number_size_pt: float | None,
    line_width_pt: float,
) -> Difficulty:
    """The difficulty of any tiling: (R,) areas in 300 dpi pixels and (R,) palette indices.

    `number_size_pt` is the smallest printed number, None on a page without numbers.
    """
    assert region_areas_px.ndim == 1 and region_areas_px.shape == region_color.shape
    assert len(region_areas_px) > 0 and int(region_areas_px.min()) > 0
    mm2_per_px = mm_from_px(1.0) ** 2
    painted_cm2 = float(region_areas_px.sum()) * mm2_per_px / 100.0
    regions = int(region_areas_px.shape[0])
    seconds = regions * SECONDS_PER_REGION + painted_cm2 * SECONDS_PER_CM2
    readings = [_reading(seconds / (painted_cm2 / 100.0), WORK_SECONDS_PER_DM2, "easy")]
    if number_size_pt is not None:
        readings.append(_reading(number_size_pt, NUMBER_PT_AT_LEAST, "expert"))
    else:
        readings.append(_reading(line_width_pt, LINE_PT_AT_LEAST, "expert"))
    return Difficulty(
        regions=regions,
        smallest_region_mm2=float(region_areas_px.min()) * mm2_per_px,
        smallest_number_pt=number_size_pt,
        line_width_pt=line_width_pt,
        colors_used=int(np.unique(region_color).shape[0]),
        painted_cm2=painted_cm2,
        minutes=seconds / 60.0,
        word=WORDS[max(readings)],
    )


AREA_ROWS_PER_BLOCK: Final = 256


def _region_areas_px(labels: NDArray[np.int32], count: int) -> NDArray[np.int64]:
    """(count,) pixels of each label, counted a block of rows at a time: `bincount` copies its input
    to int64, which for a whole Letter label map is 45 MB more at the render's peak."""
    areas = np.zeros(count, dtype=np.int64)
    for top in range(0, labels.shape[0], AREA_ROWS_PER_BLOCK):
        areas += np.bincount(labels[top : top + AREA_ROWS_PER_BLOCK].ravel(), minlength=count)
    return areas


class _LastReport:
    """The report of the last artwork asked about: every page of one artwork asks (from the render
    threads), and counting a Letter label map's pixels costs 10-40 ms each time. Its arrays are held
    weakly, so the cache never keeps a finished artwork's label map alive."""

    entry: tuple[weakref.ref[NDArray[np.int32]], weakref.ref[NDArray[np.int32]], Difficulty] | None = None

    @classmethod
    def find(cls, artwork: Artwork) -> Difficulty | None:
        entry = cls.entry  # one read: another thread may replace it meanwhile
        if entry is None or entry[0]() is not artwork.labels or entry[1]() is not artwork.region_color:
            return None
        report = entry[2]
        same_print = report.line_width_pt == artwork.line_width_pt and report.smallest_number_pt == (
            artwork.number_size_pt if artwork.numbered else None
        )
        return report if same_print else None

    @classmethod
    def keep(cls, artwork: Artwork, report: Difficulty) -> None:
        cls.entry = (weakref.ref(artwork.labels), weakref.ref(artwork.region_color), report)


def artwork_difficulty(artwork: Artwork) -> Difficulty:
    """The difficulty of `artwork`'s regions as printed."""
    known = _LastReport.find(artwork)
    if known is not None:
        return known
    areas = _region_areas_px(artwork.labels, artwork.region_count)
    report = measure(
        areas,
        artwork.region_color,
        number_size_pt=artwork.number_size_pt if artwork.numbered else None,
        line_width_pt=artwork.line_width_pt,
    )
    _LastReport.keep(artwork, report)
    return report

