from __future__ import annotations

import pickle

import pytest

from mosaic.imaging.options import (
    COLORS_MAX,
    COLORS_MIN,
    FIELDS,
    HINT_CHARS_MAX,
    GenerateOptions,
    InvalidOption,
    UnknownField,
    parse_options,
)
from mosaic.imaging.presets import preset_fields, presets_catalogue

DOCUMENTED = {
    "mode": ["hex", "voronoi", "square", "cbn", "lineart", "ai"],
    "output": ["zip", "mystery", "answer", "legend", "full", "beauty", "svg"],
    "colors": [str(n) for n in range(4, 21)],
    "page": ["letter", "a4"],
    "orientation": ["auto", "portrait", "landscape"],
    "detail": ["simple", "standard", "detailed", "expert"],
    "density": ["easy", "standard", "detailed", "expert"],
}
REJECTED = {
    "mode": ["HEX", "hexagon", "mosaic", " hex", "ai2"],
    "output": ["pdf", "png", "ZIP", "all"],
    "colors": ["3", "21", "0", "-5", "12.0", "twelve", " 12", "+12", "1_2", "012", "0012"],
    "page": ["A4", "legal", "letter "],
    "orientation": ["Landscape", "horizontal", "square"],
    "detail": ["easy", "high", "Standard"],
    "density": ["simple", "low", "max"],
    "preset": ["no-such-preset", "CBN-CLASSIC"],
}


def test_no_fields_give_the_spec_defaults() -> None:
    assert parse_options({}) == GenerateOptions(
        mode="hex", output="zip", colors=12, page="letter", detail="standard", density="standard"
    )


def test_an_empty_field_counts_as_not_given() -> None:
    assert parse_options({"mode": "", "colors": "", "preset": ""}) == GenerateOptions()


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, vs in DOCUMENTED.items() for v in vs])
def test_every_documented_value_is_accepted(field: str, value: str) -> None:
    options = parse_options({field: value})
    assert str(getattr(options, field)) == value


@pytest.mark.parametrize(("field", "value"), [(f, v) for f, vs in REJECTED.items() for v in vs])
def test_every_other_value_is_rejected_naming_the_field_and_the_accepted_values(
    field: str, value: str
) -> None:
    with pytest.raises(InvalidOption) as raised:
        parse_options({field: value})
    assert raised.value.field == field
    assert raised.value.code == "invalid_option"
    if field == "colors":
        assert f"{COLORS_MIN} to {COLORS_MAX}" in raised.value.message
    elif field == "preset":
        assert "cbn-classic" in raised.value.message
    else:
        assert ", ".join(DOCUMENTED[field]) in raised.value.message


def test_a_hint_up_to_200_characters_is_accepted_and_a_longer_one_rejected() -> None:
    assert parse_options({"hint": "a cat" * 40}).hint == "a cat" * 40
    with pytest.raises(InvalidOption, match="hint"):
        parse_options({"hint": "x" * (HINT_CHARS_MAX + 1)})


def test_a_preset_overrides_the_fields_it_sets_and_keeps_the_others() -> None:
    options = parse_options(
        {"preset": "cbn-expert", "mode": "hex", "colors": "5", "output": "svg", "page": "a4"}
    )
    assert (options.mode, options.colors, options.detail) == ("cbn", 20, "expert")
    assert (options.output, options.page, options.preset) == ("svg", "a4", "cbn-expert")


def test_a_preset_overrides_even_an_invalid_value_of_a_field_it_sets() -> None:
    assert parse_options({"preset": "kids-hex", "colors": "99"}).colors == 6


@pytest.mark.parametrize(
    ("field", "suggestion"),
    [("colour", "colors"), ("color", "colors"), ("mdoe", "mode"), ("Page", "page"), ("presets", "preset")],
)
def test_an_unknown_field_is_refused_with_a_did_you_mean_hint(field: str, suggestion: str) -> None:
    with pytest.raises(UnknownField) as raised:
        parse_options({field: "10"})
    assert raised.value.code == "unknown_field"
    assert raised.value.field == field
    assert str(raised.value) == f'"{field}" is not a field; did you mean "{suggestion}"?'


def test_an_unknown_field_unlike_any_is_refused_listing_the_fields() -> None:
    with pytest.raises(UnknownField) as raised:
        parse_options({"mode": "hex", "zzzzzz": "1"})
    assert str(raised.value) == f'"zzzzzz" is not a field; the fields are {", ".join(FIELDS)}'


def test_an_unknown_field_is_refused_even_when_empty_or_beside_a_preset() -> None:
    for fields in ({"colour": ""}, {"preset": "kids-hex", "colour": "10"}):
        with pytest.raises(UnknownField):
            parse_options(fields)


def test_an_unknown_field_survives_a_round_trip_through_pickle() -> None:
    refused = pickle.loads(pickle.dumps(UnknownField.named("colour")))
    assert (type(refused), refused.field, str(refused)) == (
        UnknownField, "colour", '"colour" is not a field; did you mean "colors"?'
    )


def test_the_catalogue_has_at_least_8_presets_covering_every_local_mode_and_level() -> None:
    catalogue = presets_catalogue()
    assert len(catalogue) >= 8
    assert {p["fields"]["mode"] for p in catalogue} == {"hex", "voronoi", "square", "cbn", "lineart"}
    assert {"easy", "expert"} <= {p["level"] for p in catalogue}
    for preset in catalogue:
        assert set(preset) == {"name", "title", "description", "level", "fields"}
        assert preset["description"]


def test_every_preset_parses_to_its_fields() -> None:
    for preset in presets_catalogue():
        options = parse_options({"preset": preset["name"]})
        for field, value in preset["fields"].items():
            assert getattr(options, field) == value
        assert preset_fields(preset["name"]) == {k: str(v) for k, v in preset["fields"].items()}


def test_the_catalogue_is_a_copy_callers_cannot_corrupt() -> None:
    presets_catalogue()[0]["fields"]["mode"] = "ai"
    assert presets_catalogue()[0]["fields"]["mode"] != "ai"
