"""`palette=` through every mode that colors: only the set's paints, each under its set number on
every page of every photo, the legend naming paint and code, and the same bytes every run."""

from __future__ import annotations

import io
import json
import re
import zipfile
from functools import cache

import numpy as np
import pytest
from synthetic_artworks import IMAGES, NUMBERED_MODES, photo

from mosaic.imaging.artwork import Artwork, page_for
from mosaic.imaging.bundle import palette_document
from mosaic.imaging.cbn import cbn_artwork
from mosaic.imaging.colornames import hex_from_rgb
from mosaic.imaging.legend import legend_entries
from mosaic.imaging.mosaic import hex_artwork, voronoi_artwork
from mosaic.imaging.options import LocalMode, parse_options
from mosaic.imaging.palettes import PaintSet, find_set, parse_palette
from mosaic.imaging.pipeline import generate
from mosaic.imaging.svg import puzzle_svg

PHOTOS = ("chelsea", "coffee")
FIVE = "#d62828,#f77f00,#fcbf49,#003049,#eae2b7"


def _set(set_id: str) -> PaintSet:
    found = find_set(set_id)
    assert found is not None
    return found


@cache
def _artwork(name: str, mode: LocalMode, palette: str, colors: int) -> Artwork:
    paints = parse_palette(palette).paints
    page = page_for("letter")
    if mode == "cbn":
        return cbn_artwork(photo(name), page=page, colors=colors, paints=paints)
    if mode == "hex":
        return hex_artwork(photo(name), page=page, colors=colors, paints=paints)
    return voronoi_artwork(photo(name), page=page, colors=colors, paints=paints)


def _numbers_by_hex(artwork: Artwork) -> dict[str, int]:
    return {hex_from_rgb(rgb): artwork.number_of(i) for i, rgb in enumerate(artwork.palette_rgb)}


@pytest.mark.parametrize("mode", NUMBERED_MODES)
def test_with_a_named_set_every_color_is_one_of_its_paints_under_its_set_number_in_two_photos(
    mode: LocalMode,
) -> None:
    crayons = _set("crayola-64")
    set_numbers = {p.hex: p.number for p in crayons.paints}
    seen: dict[str, int] = {}
    for name in PHOTOS:
        artwork = _artwork(name, mode, "crayola-64", 12)
        artwork.check()
        assert artwork.color_count == 12
        used = np.unique(artwork.region_color)
        for color, number in _numbers_by_hex(artwork).items():
            assert set_numbers[color] == number  # a paint of the set, under the set's number
            assert seen.setdefault(color, number) == number  # and the same number in both photos
        assert len(used) >= 2
    assert len(seen) > 12  # the two photos did not simply get the same twelve crayons


@pytest.mark.parametrize("mode", NUMBERED_MODES)
def test_the_printed_numbers_are_the_set_numbers(mode: LocalMode) -> None:
    artwork = _artwork("coffee", mode, "crayola-64", 12)
    printed = {int(n) for n in re.findall(rb'data-number="(\d+)"', puzzle_svg(artwork))}
    assert printed <= set(_numbers_by_hex(artwork).values())
    assert printed != set(range(1, len(printed) + 1))  # not renumbered 1..K


@pytest.mark.parametrize("mode", NUMBERED_MODES)
def test_a_custom_palette_of_five_colors_uses_only_them(mode: LocalMode) -> None:
    artwork = _artwork("astronaut", mode, FIVE, 5)
    assert set(_numbers_by_hex(artwork)) <= set(FIVE.split(","))
    assert {tuple(int(v) for v in rgb) for rgb in artwork.palette_rgb[artwork.region_color]} <= {
        p.rgb for p in parse_palette(FIVE).paints
    }
    assert _numbers_by_hex(artwork) == {hex_value: n for n, hex_value in enumerate(FIVE.split(","), 1)}


def test_the_legend_names_each_paint_and_its_maker_s_code() -> None:
    pencils = _set("caran-dache-luminance")
    by_number = {p.number: p for p in pencils.paints}
    artwork = _artwork("chelsea", "hex", "caran-dache-luminance", 8)
    entries = legend_entries(artwork)
    assert [e.number for e in entries] == sorted(e.number for e in entries)
    for entry in entries:
        paint = by_number[entry.number]
        assert (entry.name, entry.code, entry.hex) == (paint.name, paint.code, paint.hex)
        assert entry.detail("3 cells") == f"{paint.code}  ·  3 cells"
    document = palette_document(artwork)
    assert [(c["number"], c["code"]) for c in document["palette"]] == [(e.number, e.code) for e in entries]


def test_a_custom_color_is_named_in_everyday_words_in_the_legend() -> None:
    entries = legend_entries(_artwork("astronaut", "cbn", FIVE, 5))
    assert all(e.name and e.code is None and e.detail("#abcdef") == "#abcdef" for e in entries)


@pytest.mark.parametrize("mode", NUMBERED_MODES)
def test_the_same_request_with_a_palette_gives_byte_identical_output(mode: LocalMode) -> None:
    data = (IMAGES / "coffee.png").read_bytes()
    options = parse_options({"mode": mode, "palette": "crayola-24", "colors": "10"})
    first = generate(data, options)
    assert generate(data, options).data == first.data
    names = zipfile.ZipFile(io.BytesIO(first.data)).namelist()
    document = json.loads(zipfile.ZipFile(io.BytesIO(first.data)).read("palette.json"))
    assert "palette.json" in names and len(document["palette"]) == 10
    assert {c["hex"] for c in document["palette"]} <= {p.hex for p in _set("crayola-24").paints}
