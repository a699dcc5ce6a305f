"""`GET /api/palettes` and `palette=` on `POST /api/generate`: the sets listed, the paints used, and
every bad palette a 400 naming the problem with nothing charged."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from mosaic.imaging.palettes import catalogue, find_set
from tests.http import images
from tests.http.conftest import AppClient
from tests.http.generation_helpers import Studio, error_of, studio

__all__ = ["studio"]  # the fixture


def test_the_palettes_route_lists_every_set_with_its_numbered_paints_without_auth(client: AppClient) -> None:
    response = client.get("/api/palettes")
    assert response.status_code == 200, response.text
    listed = response.json()
    assert [s["id"] for s in listed] == [s.id for s in catalogue()]
    luminance = next(s for s in listed if s["id"] == "caran-dache-luminance")
    assert luminance["size"] == len(luminance["colors"]) and luminance["maker"] == "Caran d'Ache"
    assert luminance["colors"][0] == {"number": 1, "hex": "#ffffff", "name": "White", "code": "6901-001"}
    assert all(s["source"] for s in listed)
    crayons = next(s for s in listed if s["id"] == "crayola-8")
    assert {c["code"] for c in crayons["colors"]} == {None}  # Crayola prints no per-crayon code


def test_the_openapi_document_describes_the_palettes_and_the_palette_field(client: AppClient) -> None:
    document = client.get("/openapi.json").json()
    schema = document["paths"]["/api/palettes"]["get"]["responses"]["200"]["content"]["application/json"]
    assert schema["schema"]["items"] == {"$ref": "#/components/schemas/PaletteSetBody"}
    body = document["paths"]["/api/generate"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "palette" in body["schema"]["properties"]


def test_a_page_with_a_named_set_uses_its_paints_under_their_set_numbers(studio: Studio) -> None:
    before = studio.balance()
    response = studio.generate(images.photo_png(), mode="hex", output="zip", palette="crayola-64", colors="8")
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        palette = json.loads(archive.read("palette.json"))["palette"]
    crayons = find_set("crayola-64")
    assert crayons is not None
    by_number = {p.number: p for p in crayons.paints}
    assert len(palette) == 8
    assert all((c["hex"], c["name"], c["code"]) == (by_number[c["number"]].hex, by_number[c["number"]].name, None)
               for c in palette)
    assert studio.balance() == before - 1


def _colors(count: int) -> str:
    return ",".join(f"#{i * 3:06x}" for i in range(count))


BAD_PALETTES = [
    ({"palette": "crayola-100"}, "palette", "is not a paint set"),
    ({"palette": _colors(3)}, "palette", "lists 3 colors"),
    ({"palette": _colors(65)}, "palette", "lists 65 colors"),
    ({"palette": "#ff0000,#00ff00,#0000ff,#ff00"}, "palette", "color 4 ('#ff00') is not a hex color"),
    ({"palette": "crayola-8", "colors": "9"}, "colors", "9 is more than the 8 colors of palette crayola-8"),
    ({"palette": "crayola-8", "mode": "lineart"}, "palette", "not to mode lineart"),
    ({"palette": "crayola-8", "mode": "ai"}, "palette", "not to mode ai"),
]


@pytest.mark.parametrize(("fields", "field", "says"), BAD_PALETTES, ids=[b[2] for b in BAD_PALETTES])
def test_a_bad_palette_is_a_400_naming_the_problem_and_nothing_is_charged(
    studio: Studio, fields: dict[str, str], field: str, says: str
) -> None:
    events = studio.events()
    response = studio.generate(images.photo_png(), **{"mode": "cbn", **fields})
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "invalid_option"
    assert error["message"].startswith(f"{field}:") and says in error["message"], error
    assert studio.events() == events
    assert studio.credit_lines() == []


def test_a_bulk_of_two_photos_keeps_each_paint_s_set_number_in_both(studio: Studio) -> None:
    photos = [("cat.png", images.photo_png(name="chelsea.png")), ("cup.png", images.photo_png(name="coffee.png"))]
    response = studio.bulk(photos, mode="hex", output="zip", palette="crayola-64", colors="10")
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        palettes = [json.loads(archive.read(f"{folder}/palette.json"))["palette"] for folder in ("cat", "cup")]
    crayons = find_set("crayola-64")
    assert crayons is not None
    set_number = {p.hex: p.number for p in crayons.paints}
    for palette in palettes:
        assert len(palette) == 10 and all(set_number[c["hex"]] == c["number"] for c in palette)
    assert {c["hex"] for c in palettes[0]} != {c["hex"] for c in palettes[1]}


def test_a_bulk_with_a_bad_palette_is_refused_whole_and_nothing_is_charged(studio: Studio) -> None:
    events = studio.events()
    response = studio.bulk([("a.png", images.photo_png())], mode="cbn", palette="#ff0000,#00ff00,#0000ff")
    assert response.status_code == 400, response.text
    assert error_of(response)["message"] == "palette: lists 3 colors; a custom palette has 4 to 64"
    assert studio.events() == events and studio.credit_lines() == []
