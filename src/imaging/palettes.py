"""Paint palettes: the named sets of the bundled catalogue, or the customer's own list of colors.

`palette=` is either a set id from `data/palettes.json` (`crayola-24`, see `GET /api/palettes`) or a
comma-separated list of 4..64 sRGB colors `#rrggbb` (the `#` may be left out, which saves
URL-encoding it). A paint's `number` is its place in its set (1-based, the catalogue's order; a
custom list is numbered in the order given): it is the number printed on every page, whichever
paints a photo needs, so the same crayon carries the same number in every book.

Each set names its source; a color whose maker's code the source does not give has `code` None.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Final

CUSTOM_COLORS_MIN: Final = 4
CUSTOM_COLORS_MAX: Final = 64
CUSTOM_ID: Final = "custom"
PAINT_NUMBER_MAX: Final = 99  # numbers are printed in at most two digits (cells.NUMBER_WIDTH_EM)
PALETTE_CHARS_MAX: Final = CUSTOM_COLORS_MAX * 9  # "#rrggbb, " per color
_HEX: Final = re.compile(r"#?([0-9a-fA-F]{6})")
_SET_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]*")


class PaletteRefused(ValueError):
    """`palette=` names no set, or its color list is malformed; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Paint:
    """One color of a set: its number in the set, the maker's name and code, and its sRGB value."""

    number: int
    hex: str  # "#rrggbb", lower case
    name: str | None = None  # None for a customer's color: the legend names it
    code: str | None = None  # None where the source gives no maker's code

    @property
    def rgb(self) -> tuple[int, int, int]:
        digits = self.hex[1:]
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


@dataclass(frozen=True, slots=True)
class PaintSet:
    """A named set of paints (or a customer's list, id `custom`), numbered 1..N."""

    id: str
    name: str
    paints: tuple[Paint, ...]
    maker: str | None = None
    kind: str | None = None
    source: str | None = None
    product_code: str | None = None  # the maker's code for the boxed set, where the source gives one

    def __post_init__(self) -> None:
        assert [p.number for p in self.paints] == list(range(1, len(self.paints) + 1)), self.id
        assert len(self.paints) <= PAINT_NUMBER_MAX, self.id

    @property
    def size(self) -> int:
        return len(self.paints)


def _paint(entry: dict[str, Any]) -> Paint:
    match = _HEX.fullmatch(str(entry["hex"]))
    assert match is not None and str(entry["hex"]).startswith("#"), entry
    code = entry.get("code")
    hex_value = "#" + match.group(1).lower()
    return Paint(int(entry["number"]), hex_value, str(entry["name"]), None if code is None else str(code))


@lru_cache(maxsize=1)
def catalogue() -> tuple[PaintSet, ...]:
    """Every named set, in the catalogue's order."""
    text = resources.files("mosaic.imaging").joinpath("data/palettes.json").read_text("utf-8")
    sets = []
    for entry in json.loads(text)["sets"]:
        assert _SET_ID.fullmatch(entry["id"]) and entry["id"] != CUSTOM_ID, entry["id"]
        paints = tuple(_paint(color) for color in entry["colors"])
        assert len(paints) >= CUSTOM_COLORS_MIN, entry["id"]
        sets.append(
            PaintSet(
                entry["id"], entry["name"], paints, entry["maker"], entry["kind"], entry["source"],
                entry.get("product_code"),
            )
        )
    assert len({s.id for s in sets}) == len(sets), "duplicate set id"
    return tuple(sets)


def set_ids() -> tuple[str, ...]:
    return tuple(s.id for s in catalogue())


def find_set(set_id: str) -> PaintSet | None:
    return next((s for s in catalogue() if s.id == set_id), None)


def parse_palette(value: str) -> PaintSet:
    """The set `value` names, or the customer's colors it lists.

    Raises
    ------
    PaletteRefused
        An unknown set id, a list of fewer than 4 or more than 64 colors, a color that is not
        `#rrggbb`, or a color listed twice.
    """
    text = value.strip()
    if "," not in text and not _HEX.fullmatch(text):
        found = find_set(text)
        if found is None:
            shown = text if len(text) <= 40 else text[:40] + "…"
            raise PaletteRefused(
                f"{shown!r} is not a paint set ({', '.join(set_ids())}; see /api/palettes) "
                f"nor a list of {CUSTOM_COLORS_MIN} to {CUSTOM_COLORS_MAX} colors #rrggbb,#rrggbb,…"
            )
        return found
    return _custom(text)


def _custom(text: str) -> PaintSet:
    if len(text) > PALETTE_CHARS_MAX:
        raise PaletteRefused(f"is {len(text)} characters; a list of {CUSTOM_COLORS_MAX} colors needs fewer")
    items = [item.strip() for item in text.split(",")]
    if not CUSTOM_COLORS_MIN <= len(items) <= CUSTOM_COLORS_MAX:
        raise PaletteRefused(
            f"lists {len(items)} colors; a custom palette has {CUSTOM_COLORS_MIN} to {CUSTOM_COLORS_MAX}"
        )
    paints: list[Paint] = []
    seen: dict[str, int] = {}
    for number, item in enumerate(items, start=1):
        match = _HEX.fullmatch(item)
        if match is None:
            shown = item if len(item) <= 20 else item[:20] + "…"
            raise PaletteRefused(f"color {number} ({shown!r}) is not a hex color #rrggbb")
        hex_value = "#" + match.group(1).lower()
        if hex_value in seen:
            raise PaletteRefused(f"color {number} ({hex_value}) repeats color {seen[hex_value]}")
        seen[hex_value] = number
        paints.append(Paint(number, hex_value))
    return PaintSet(CUSTOM_ID, f"Custom palette of {len(paints)} colors", tuple(paints))
