"""Where numbers go: the room a number needs, and each region's pole of inaccessibility.

A number is legible when its ink box (the widest two-digit number in the page font, at the
level's size) plus a clearance on every side fits inside its region without touching a line.
The anchor is the point of the region, among those where the box fits, farthest from any line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.artwork import DPI, px_from_pt
from mosaic.imaging.regions import region_bounds, region_poles

# Ink box of the widest two-digit number ("20") in the page font (Pillow's bundled Aileron),
# measured at 25–42 px: at most 1.2 em wide and 0.74 em tall.
NUMBER_BOX_WIDTH_EM: Final = 1.2
NUMBER_BOX_HEIGHT_EM: Final = 0.75
NUMBER_CLEARANCE_PT: Final = 0.5  # white space between the ink and the inner edge of a line


@dataclass(frozen=True, slots=True)
class NumberRoom:
    """Half the size of the box a number needs, centre pixel excluded, at some resolution."""

    half_width_px: int
    half_height_px: int

    def at_dpi(self, dpi: int, *, safety_px: int) -> NumberRoom:
        """The same room at `dpi` (to the nearest pixel), plus `safety_px` on every side.

        Nearest, not up: a coarser map is a first cut that print resolution re-checks, and
        rounding up there would take a third of a number's room from every region at 100 dpi.
        """
        return NumberRoom(
            round(self.half_width_px * dpi / DPI) + safety_px,
            round(self.half_height_px * dpi / DPI) + safety_px,
        )


def number_room(*, number_size_pt: float, line_width_pt: float) -> NumberRoom:
    """The room at print resolution (`DPI`) for a two-digit number of `number_size_pt`."""
    assert number_size_pt > 0 and line_width_pt > 0
    em_px = px_from_pt(number_size_pt)
    clearance_px = px_from_pt(line_width_pt / 2 + NUMBER_CLEARANCE_PT)
    return NumberRoom(
        math.ceil(em_px * NUMBER_BOX_WIDTH_EM / 2 + clearance_px),
        math.ceil(em_px * NUMBER_BOX_HEIGHT_EM / 2 + clearance_px),
    )


def anchors_xy(labels: NDArray[np.int32], count: int, *, room: NumberRoom) -> NDArray[np.float32]:
    """Each region's number position: its pole of inaccessibility among the pixels where it fits.

    Parameters
    ----------
    labels
        (H, W) int32 region map with `count` regions, every one able to hold `room`.
    room
        The number's room at this resolution.

    Returns
    -------
    NDArray[np.float32]
        (count, 2) float32 (x, y): the centre of the chosen pixel in continuous coordinates, in
        which pixel (row i, column j) covers [j, j + 1) × [i, i + 1). Ties go to the first pixel in
        scan order.
    """
    holds, poles = region_poles(
        labels,
        region_bounds(labels, count),
        np.arange(count, dtype=np.int64),
        half_width_px=room.half_width_px,
        half_height_px=room.half_height_px,
    )
    assert bool(holds.all()), "a region cannot hold its number"
    return poles
