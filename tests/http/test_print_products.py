"""Books (`POST /api/bulk` with `output=book`) and posters (`tiles=` on `POST /api/generate`): what they
cost, and what is refused before anything is charged."""

from __future__ import annotations

import io

import pypdf
import pytest

from mosaic.bootstrap import Services
from tests.http import faults, images
from tests.http.generation_helpers import Studio, error_of, open_studio, studio

__all__ = ["studio"]


def _pages(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_a_book_is_one_pdf_charging_a_credit_per_image_that_made_a_puzzle(studio: Studio) -> None:
    studio.services.use_cases.generate.job = faults.explode_on_small_images
    before = studio.balance()
    response = studio.bulk(
        [
            ("cat.png", images.photo_png()),
            ("dog.jpg", images.photo_jpeg()),
            ("list.jpg", images.text_named_jpg()),
            ("tiny.png", images.photo_png((16, 12))),
        ],
        mode="hex", output="book", title="Pets", bleed="0.125in",
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "book-hex.pdf" in response.headers["content-disposition"]
    assert response.headers["x-credits-charged"] == "2"
    assert _pages(response.content) == 1 + 2 + 2, "title, two puzzles, two answers"
    lines = studio.credit_lines()
    assert lines[:3] == [("reserve", -1)] * 3, "the text file is refused before the reservation"
    assert sorted(lines[3:]) == [("capture", 0), ("capture", 0), ("release", 1)]
    assert studio.balance() == before - 2


def test_the_same_book_request_gives_the_same_bytes(studio: Studio) -> None:
    photos = [("a.png", images.photo_png()), ("b.jpg", images.photo_jpeg())]
    first = studio.bulk(photos, mode="cbn", output="book", page="a4")
    again = studio.bulk(photos, mode="cbn", output="book", page="a4")
    assert first.status_code == again.status_code == 200, first.text
    assert first.content == again.content


def test_a_book_where_no_image_made_a_puzzle_is_refused_and_nothing_is_charged(studio: Studio) -> None:
    studio.services.use_cases.generate.job = faults.explode_on_small_images
    before = studio.balance()
    response = studio.bulk([("tiny.png", images.photo_png((16, 12)))], mode="hex", output="book")
    assert response.status_code == 400
    assert error_of(response)["code"] == "no_usable_image"
    assert studio.balance() == before
    assert [kind for kind, _ in studio.credit_lines()] == ["reserve", "release"]


def test_a_poster_is_one_pdf_and_costs_a_credit_per_sheet(studio: Studio) -> None:
    before = studio.balance()
    response = studio.generate(images.photo_jpeg(), filename="garden.jpg", mode="voronoi", tiles="2x2")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert "garden-voronoi-poster-2x2.pdf" in response.headers["content-disposition"]
    assert response.headers["x-credits-charged"] == "4"
    assert _pages(response.content) == 1 + 4 + 1, "assembly map, four sheets, color key"
    assert studio.credit_lines() == [("reserve", -4), ("capture", 0)]
    assert studio.balance() == before - 4


def test_a_poster_the_balance_cannot_cover_is_402_and_nothing_is_reserved(services: Services) -> None:
    poor = open_studio(services, plan="free")  # 5 credits: a 2x2 poster, not a 3x3 one
    try:
        events = poor.events()
        response = poor.generate(images.photo_png(), mode="hex", tiles="3x3")
        assert response.status_code == 402, response.text
        assert error_of(response)["code"] == "insufficient_credits"
        assert poor.events() == events and poor.credit_lines() == []
    finally:
        poor.client.close()
        poor.generations.close()


@pytest.mark.parametrize(
    ("route", "fields", "named"),
    [
        ("generate", {"mode": "hex", "output": "book"}, "output"),
        ("generate", {"mode": "cbn", "tiles": "9x9"}, "tiles"),
        ("generate", {"mode": "lineart", "tiles": "2x2"}, "tiles"),
        ("generate", {"mode": "cbn", "tiles": "2x2", "output": "svg"}, "output"),
        ("generate", {"mode": "cbn", "title": "My page"}, "title"),
        ("bulk", {"mode": "cbn", "tiles": "2x2"}, "tiles"),
        ("bulk", {"mode": "cbn", "output": "book", "bleed": "yes"}, "bleed"),
    ],
)
def test_print_fields_that_do_not_apply_are_a_400_naming_the_field_and_charge_nothing(
    studio: Studio, route: str, fields: dict[str, str], named: str
) -> None:
    events = studio.events()
    photo = images.photo_png()
    if route == "generate":
        response = studio.generate(photo, **fields)
    else:
        response = studio.bulk([("a.png", photo)], **fields)
    assert response.status_code == 400, response.text
    error = error_of(response)
    assert error["code"] == "invalid_option"
    assert error["message"].startswith(f"{named}:"), error
    assert studio.events() == events, "no event written"
