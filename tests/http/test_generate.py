"""`POST /api/generate`: the file asked for, one credit, and nothing charged for anything refused."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator

import pytest

from mosaic.commands.pool import GenerationBusy, GenerationTimedOut
from mosaic.domain.errors import AlreadyCompleted, AlreadyReleased
from mosaic.http.errors import STATUS_BY_KIND
from tests.http import faults, images
from tests.http.generation_helpers import Studio, error_of, multipart_body, studio

__all__ = ["studio"]  # the fixture


def test_a_coloring_page_comes_back_as_a_zip_and_costs_one_credit(studio: Studio) -> None:
    before = studio.balance()
    response = studio.generate(images.photo_jpeg(), filename="photo.jpg", mode="lineart", output="zip")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == 'attachment; filename="photo-lineart.zip"'
    assert response.headers["x-credits-charged"] == "1"
    assert response.headers["x-credits-remaining"] == str(before - 1)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.testzip() is None
        assert "mystery.png" in archive.namelist()
    assert studio.balance() == before - 1
    assert studio.credit_lines() == [("reserve", -1), ("capture", 0)]


def test_single_outputs_come_back_as_png_or_svg_files(studio: Studio) -> None:
    png = studio.generate(images.photo_png(), mode="hex", output="mystery")
    assert png.status_code == 200, png.text
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert png.headers["content-disposition"] == 'attachment; filename="photo-hex-mystery.png"'
    svg = studio.generate(images.photo_png(), filename="my cat!.png", mode="voronoi", output="svg")
    assert svg.status_code == 200, svg.text
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content[:500]
    assert svg.headers["content-disposition"] == 'attachment; filename="my_cat-voronoi-svg.svg"'


INVALID_FIELDS = [
    ("mode", "pencil"), ("output", "gif"), ("colors", "3"), ("colors", "21"), ("colors", "ten"),
    ("page", "a3"), ("preset", "no-such-preset"), ("detail", "extreme"), ("density", "sparse"),
]


def test_every_invalid_field_value_is_a_400_naming_the_field_and_nothing_is_charged(studio: Studio) -> None:
    events = studio.events()
    for field, value in INVALID_FIELDS:
        response = studio.generate(images.photo_png(), **{field: value})
        assert response.status_code == 400, (field, value, response.text)
        error = error_of(response)
        assert error["code"] == "invalid_option"
        assert error["message"].startswith(f"{field}:"), error
    assert studio.events() == events
    assert studio.credit_lines() == []


BAD_UPLOADS = [
    ("truncated.png", images.truncated_png, 400, "corrupt_image"),
    ("notes.jpg", images.text_named_jpg, 400, "unsupported_image_type"),
    ("empty.png", lambda: b"", 400, "empty_image"),
    ("huge.jpg", images.oversized_file, 413, "body_too_large"),  # refused by its Content-Length
    ("bomb.png", images.bomb_png, 413, "image_too_large"),
]


@pytest.mark.parametrize(("filename", "make", "status", "code"), BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS])
def test_an_unusable_upload_is_refused_with_a_clear_error_and_nothing_is_charged(
    studio: Studio, filename: str, make: object, status: int, code: str
) -> None:
    events = studio.events()
    assert callable(make)
    response = studio.generate(make(), filename=filename, mode="cbn")
    assert response.status_code == status, response.text
    assert error_of(response)["code"] == code
    assert studio.events() == events
    assert studio.credit_lines() == []


def test_a_request_without_the_image_field_is_a_400_and_nothing_is_charged(studio: Studio) -> None:
    events = studio.events()
    response = studio.generate(None, mode="cbn")
    assert response.status_code == 400
    assert error_of(response)["code"] == "missing_image"
    assert "image" in error_of(response)["message"]
    assert studio.events() == events


def test_a_file_sent_in_a_text_field_or_urlencoded_is_a_400(studio: Studio) -> None:
    as_text = studio.post("/api/generate", {"image": "photo.jpg"}, [])
    assert as_text.status_code == 400
    assert "send a file" in error_of(as_text)["message"]
    urlencoded = studio.client.post("/api/generate", data={"mode": "cbn"}, headers=studio.auth)
    assert urlencoded.status_code == 400
    assert error_of(urlencoded)["code"] == "invalid_form"


def test_a_generation_that_fails_in_the_worker_is_released_and_answered_with_a_json_500(
    studio: Studio,
) -> None:
    studio.services.use_cases.generate.job = faults.explode
    before = studio.balance()
    response = studio.generate(images.photo_png(), mode="cbn")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "generation_failed"
    assert "released" in error["message"]
    assert studio.credit_lines() == [("reserve", -1), ("release", 1)]
    assert studio.statement()[-1].reason == "generation failed: InjectedFault"
    assert studio.balance() == before


def test_a_full_worker_pool_answers_503_with_retry_after_before_charging(studio: Studio) -> None:
    events = studio.events()
    with studio.generations.admit(studio.generations.capacity):
        response = studio.generate(images.photo_png(), mode="hex")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert error_of(response)["code"] == "generation_busy"
    assert studio.events() == events


def test_mode_ai_answers_503_ai_unavailable_and_charges_nothing(studio: Studio) -> None:
    events = studio.events()
    response = studio.generate(images.photo_png(), mode="ai", hint="a cat")
    assert response.status_code == 503
    assert error_of(response)["code"] == "ai_unavailable"
    assert studio.events() == events


def test_a_huge_declared_content_length_is_refused_before_the_body_is_read(studio: Studio) -> None:
    response = studio.client.post(
        "/api/generate", content=b"x" * 10,
        headers={**studio.auth, "Content-Type": "multipart/form-data; boundary=b", "Content-Length": str(10**12)},
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "body_too_large"


def test_an_11_mb_file_streamed_without_a_length_is_refused_once_it_passes_10_mb(studio: Studio) -> None:
    body, content_type = multipart_body({"mode": "cbn"}, [("image", "huge.jpg", images.oversized_file())])
    events = studio.events()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    response = studio.client.post(
        "/api/generate", content=chunks(), headers={**studio.auth, "Content-Type": content_type}
    )
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "file_too_large"
    assert "10 MB" in error["message"]
    assert studio.events() == events


def test_every_generation_error_has_a_status() -> None:
    statuses = {cls: STATUS_BY_KIND[cls.kind] for cls in (GenerationBusy, GenerationTimedOut, AlreadyReleased, AlreadyCompleted)}
    assert statuses == {GenerationBusy: 503, GenerationTimedOut: 503, AlreadyReleased: 409, AlreadyCompleted: 409}


def test_the_openapi_document_describes_both_multipart_bodies(studio: Studio) -> None:
    paths = studio.client.get("/openapi.json").json()["paths"]
    single = paths["/api/generate"]["post"]
    schema = single["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["image"]
    assert schema["properties"]["colors"] == {"type": "integer", "minimum": 4, "maximum": 20, "default": 12}
    assert set(schema["properties"]) == {"image", "mode", "output", "colors", "page", "preset", "detail", "density", "hint", "palette"}
    assert "application/zip" in single["responses"]["200"]["content"]
    bulk = paths["/api/bulk"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert bulk["properties"]["images"]["maxItems"] == 50
