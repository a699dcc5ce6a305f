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
NAME_SLACK_DELTA_E = 6.0  # how much worse a free name may be than a taken nearest one
# CIELAB chroma C*ab below which a color reads as grey, and a name (black, grey, white…) is neutral:
# about two just-noticeable differences from the grey of the same lightness.
NEUTRAL_CHROMA_MAX = 4.5


def hex_from_rgb(rgb: NDArray[np.uint8] | tuple[int, int, int]) -> str:
    """Return `#rrggbb` for one (3,) color."""
    r, g, b = (int(v) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def rgb_from_hex(text: str) -> tuple[int, int, int]:
    """Return (r, g, b) for `#rrggbb`."""
    digits = text.removeprefix("#")
    assert len(digits) == HEX_DIGITS, text
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def is_neutral(lab: NDArray[np.float32]) -> NDArray[np.bool_]:
    """(...) bool: whether each CIELAB color (..., 3) is a grey (chroma below `NEUTRAL_CHROMA_MAX`)."""
    out: NDArray[np.bool_] = np.hypot(lab[..., 1], lab[..., 2]) < NEUTRAL_CHROMA_MAX
    return out


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[str, ...], NDArray[np.float32]]:
    text = resources.files("mosaic.imaging").joinpath("data/colornames.json").read_text("utf-8")
    entries = json.loads(text)["colors"]
    assert 0 < len(entries) <= COLOR_NAMES_MAX
    names = tuple(str(entry["name"]) for entry in entries)
    assert len(set(names)) == len(names), "duplicate color name"
    assert not any(name.split(" ")[0] in ("deep", "pale") for name in names), "a qualifier could repeat it"
    rgb = np.array([rgb_from_hex(str(entry["hex"])) for entry in entries], dtype=np.uint8)
    lab = lab_from_rgb(rgb)
    neutral = is_neutral(lab)
    assert neutral.any() and not neutral.all(), "the table needs both grey and colored names"
    return names, lab


def color_names(palette_rgb: NDArray[np.uint8]) -> list[str]:
    """Name each color of `palette_rgb` (N, 3) uint8 after its nearest table entry (CIEDE2000).

    A grey is named only after a neutral entry (black, grey, white…) and a colored color only
    after a colored one (`is_neutral`), so a grey photo never gets "brown" or "blue grey".

    Two close colors should not both be "brown": colors are named best match first, and a color
    whose nearest name is taken gets the nearest free one if that is at most `NAME_SLACK_DELTA_E`
    worse; otherwise it shares the nearest (a wrong name is worse than a repeated one), and names
    still shared are qualified by lightness ("deep brown", "pale brown"), so every name is distinct.
    """
    names, table_lab = _table()
    palette_lab = lab_from_rgb(np.ascontiguousarray(palette_rgb, dtype=np.uint8))
    distances = delta_e_2000(palette_lab[:, None, :], table_lab[None, :, :])
    other_kind = is_neutral(palette_lab)[:, None] != is_neutral(table_lab)[None, :]
    distances[other_kind] = np.inf
    best = distances.min(axis=1)
    chosen: dict[int, int] = {}
    for color in np.argsort(best, kind="stable"):
        ranked = np.argsort(distances[color], kind="stable")
        free = [int(n) for n in ranked if int(n) not in chosen.values()]
        near_enough = free and distances[color, free[0]] <= best[color] + NAME_SLACK_DELTA_E
        chosen[int(color)] = free[0] if near_enough else int(ranked[0])
    plain = [names[chosen[color]] for color in range(palette_rgb.shape[0])]
    named_lightness = np.array([table_lab[chosen[color], 0] for color in range(palette_rgb.shape[0])])
    return _disambiguated(plain, palette_lab[:, 0], named_lightness)


def _disambiguated(
    names: list[str], lightness: NDArray[np.float32], named_lightness: NDArray[np.float32]
) -> list[str]:
    """Qualify repeated names by lightness: "deep brown", "brown", "pale brown"; beyond three,
    "brown 1".."brown k" from dark to light.

    Two colors sharing a name are "deep" and "pale" only if they lie either side of the name's own
    lightness (`named_lightness`): two dark navies are "deep navy" and "navy", never "pale navy"."""
    result = list(names)
    for name in sorted(set(names)):
        group = [i for i, n in enumerate(names) if n == name]
        if len(group) == 1:
            continue
        group.sort(key=lambda i: (float(lightness[i]), i))
        if len(group) <= len(_QUALIFIERS):
            labels = _QUALIFIERS[len(group)]
            if len(group) == 2:
                named = float(named_lightness[group[0]])
                if float(lightness[group[1]]) <= named:
                    labels = ("deep", "")
                elif float(lightness[group[0]]) >= named:
                    labels = ("", "pale")
            for i, qualifier in zip(group, labels, strict=True):
                result[i] = f"{qualifier} {name}".strip()
        else:
            for rank, i in enumerate(group, start=1):
                result[i] = f"{name} {rank}"
    return result


_QUALIFIERS: dict[int, tuple[str, ...]] = {2: ("deep", "pale"), 3: ("deep", "", "pale")}
