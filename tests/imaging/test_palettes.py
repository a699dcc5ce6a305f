"""The paint catalogue and `palette=`: named sets with their sources, and the customer's own colors."""

from __future__ import annotations

import itertools
import re

import pytest

from mosaic.imaging.options import InvalidOption, parse_options
from mosaic.imaging.palettes import (
    CUSTOM_COLORS_MAX,
    CUSTOM_COLORS_MIN,
    PaintSet,
    PaletteRefused,
    catalogue,
    find_set,
    parse_palette,
)

HEX = re.compile(r"#[0-9a-f]{6}")


def test_the_catalogue_holds_the_crayon_boxes_a_pencil_range_and_an_acrylic_set() -> None:
    sizes = {s.id: s.size for s in catalogue()}
    assert {sizes["crayola-8"], sizes["crayola-16"], sizes["crayola-24"], sizes["crayola-64"]} == {8, 16, 24, 64}
    kinds = {s.kind for s in catalogue()}
    assert {"crayon", "coloured pencil", "acrylic paint"} <= kinds


@pytest.mark.parametrize("paint_set", catalogue(), ids=lambda s: s.id)
def test_every_set_names_its_maker_and_source_and_every_paint_its_name(paint_set: PaintSet) -> None:
    assert paint_set.maker and paint_set.source and "GitHub " in paint_set.source
    assert [p.number for p in paint_set.paints] == list(range(1, paint_set.size + 1))
    for paint in paint_set.paints:
        assert paint.name and HEX.fullmatch(paint.hex)
        assert paint.code is None or paint.code.strip() == paint.code != ""
    assert len({p.name for p in paint_set.paints}) == paint_set.size


def test_the_pencil_range_carries_the_maker_s_codes() -> None:
    luminance = find_set("caran-dache-luminance")
    assert luminance is not None
    assert all(p.code is not None and re.fullmatch(r"6901-\d{3}", p.code) for p in luminance.paints)


def test_a_crayon_keeps_its_number_in_every_size_of_box() -> None:
    boxes = [find_set(f"crayola-{n}") for n in (8, 16, 24, 64)]
    for smaller, larger in itertools.pairwise(boxes):
        assert smaller is not None and larger is not None
        assert larger.paints[: smaller.size] == smaller.paints


def test_a_custom_palette_is_numbered_in_the_order_given_with_or_without_the_hash() -> None:
    custom = parse_palette("#FF0000, 00ff00,#0000ff,#ffffff,#000000")
    assert [(p.number, p.hex, p.name, p.code) for p in custom.paints] == [
        (1, "#ff0000", None, None), (2, "#00ff00", None, None), (3, "#0000ff", None, None),
        (4, "#ffffff", None, None), (5, "#000000", None, None),
    ]


def _colors(count: int) -> str:
    return ",".join(f"#{i * 3:06x}" for i in range(count))


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("crayola-9", "is not a paint set"),
        ("Crayola-8", "is not a paint set"),
        (_colors(CUSTOM_COLORS_MIN - 1), "lists 3 colors"),
        (_colors(CUSTOM_COLORS_MAX + 1), "lists 65 colors"),
        ("#ff0000,#00ff00,#0000ff,#12345", "color 4 ('#12345') is not a hex color"),
        ("#ff0000,#00ff00,#0000ff,#gg0000", "is not a hex color"),
        ("#ff0000,#00ff00,#0000ff,", "color 4 ('') is not a hex color"),
        ("#ff0000,#00ff00,#0000ff,#FF0000", "color 4 (#ff0000) repeats color 1"),
    ],
)
def test_a_bad_palette_is_refused_saying_what_is_wrong(value: str, says: str) -> None:
    with pytest.raises(PaletteRefused, match=re.escape(says)):
        parse_palette(value)
    with pytest.raises(InvalidOption) as raised:
        parse_options({"mode": "cbn", "palette": value})
    assert raised.value.field == "palette" and says in raised.value.message


def test_colors_default_to_the_set_s_size_up_to_the_usual_default() -> None:
    assert parse_options({"palette": "crayola-8"}).colors == 8
    assert parse_options({"palette": "crayola-64"}).colors == 12
    assert parse_options({"palette": "crayola-64", "colors": "20"}).colors == 20
    assert parse_options({"palette": _colors(5)}).colors == 5


def test_more_colors_than_the_set_holds_are_refused() -> None:
    with pytest.raises(InvalidOption) as raised:
        parse_options({"palette": "crayola-8", "colors": "9"})
    assert raised.value.field == "colors" and "more than the 8 colors of palette crayola-8" in raised.value.message


@pytest.mark.parametrize("mode", ["lineart", "ai"])
def test_a_palette_is_refused_where_the_mode_does_not_color_with_paints(mode: str) -> None:
    with pytest.raises(InvalidOption) as raised:
        parse_options({"mode": mode, "palette": "crayola-24"})
    assert raised.value.field == "palette" and f"not to mode {mode}" in raised.value.message


@pytest.mark.parametrize("mode", ["cbn", "hex", "voronoi", "square"])
def test_a_palette_is_accepted_for_the_modes_that_color(mode: str) -> None:
    options = parse_options({"mode": mode, "palette": "crayola-24"})
    assert options.palette == find_set("crayola-24")
