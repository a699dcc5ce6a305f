"""Everyday names for palette colors: the nearest entry of a small bundled table, in CIELAB.

The table (`data/colornames.json`) holds a few dozen names a child or a print customer would use
("sky blue", "rust", "light grey"); nearness is CIEDE2000, so the name matches what the eye sees.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.color import delta_e_2000, lab_from_rgb

COLOR_NAMES_MAX = 256
HEX_DIGITS = 6


def hex_from_rgb(rgb: NDArray[np.uint8] | tuple[int, int, int]) -> str:
    """Return `#rrggbb` for one (3,) color."""
    r, g, b = (int(v) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def rgb_from_hex(text: str) -> tuple[int, int, int]:
    """Return (r, g, b) for `#rrggbb`."""
    digits = text.removeprefix("#")
    assert len(digits) == HEX_DIGITS, text
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[str, ...], NDArray[np.float32]]:
    text = resources.files("mosaic.imaging").joinpath("data/colornames.json").read_text("utf-8")
    entries = json.loads(text)["colors"]
    assert 0 < len(entries) <= COLOR_NAMES_MAX
    names = tuple(str(entry["name"]) for entry in entries)
    assert len(set(names)) == len(names), "duplicate color name"
    rgb = np.array([rgb_from_hex(str(entry["hex"])) for entry in entries], dtype=np.uint8)
    return names, lab_from_rgb(rgb)


def color_names(palette_rgb: NDArray[np.uint8]) -> list[str]:
    """Name each color of `palette_rgb` (N, 3) uint8 after a table entry, every name distinct.

    Pairs (color, name) are taken nearest first (CIEDE2000), each color and each name once, so two
    close colors get two different names ("brown", "chocolate") rather than the same one twice.
    """
    names, table_lab = _table()
    assert palette_rgb.shape[0] <= len(names), "more colors than names"
    palette_lab = lab_from_rgb(np.ascontiguousarray(palette_rgb, dtype=np.uint8))
    distances = delta_e_2000(palette_lab[:, None, :], table_lab[None, :, :])
    chosen: dict[int, int] = {}
    taken: set[int] = set()
    for flat in np.argsort(distances, axis=None, kind="stable"):
        color, name = divmod(int(flat), len(names))
        if color in chosen or name in taken:
            continue
        chosen[color] = name
        taken.add(name)
        if len(chosen) == palette_rgb.shape[0]:
            break
    return [names[chosen[color]] for color in range(palette_rgb.shape[0])]
