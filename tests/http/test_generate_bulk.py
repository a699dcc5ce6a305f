"""`POST /api/bulk`: a folder per image and a manifest; a credit reserved per image, kept only on success."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

import pytest

from mosaic.bootstrap import Services
from mosaic.commands import generate as bulk  # the use case that builds the ZIP
from tests.http import faults, images
from tests.http.generation_helpers import Studio, error_of, open_studio, studio

__all__ = ["studio"]


def test_a_bulk_zip_has_a_unique_safe_folder_per_image_and_charges_only_what_succeeded(studio: Studio) -> None:
    studio.services.use_cases.generate.job = faults.explode_on_small_images
    tiny = images.photo_png((16, 12))
    before = studio.balance()
    response = studio.bulk(
        [
            ("cat.png", images.photo_png()),
            ("../holiday/Cat.PNG", images.photo_png((80, 60))),
            ("list.jpg", images.text_named_jpg()),
            ("tiny.png", tiny),
        ],
        mode="hex", output="mystery",
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["x-credits-charged"] == "2"
    assert response.headers["x-credits-remaining"] == str(before - 2)
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert {"cat/mystery.png", "Cat-2/mystery.png", "list/error.txt", "tiny/error.txt"} <= names
    by_file = {entry["file"]: entry for entry in manifest["images"]}
    assert by_file["cat.png"]["status"] == by_file["../holiday/Cat.PNG"]["status"] == "ok"
    assert by_file["list.jpg"]["error"]["code"] == "unsupported_image_type"
    assert by_file["tiny.png"]["error"]["code"] == "generation_failed"
    assert (manifest["succeeded"], manifest["failed"], manifest["charged_credits"]) == (2, 2, 2)
    lines = studio.credit_lines()
    assert lines[:3] == [("reserve", -1)] * 3, "the text file is refused before the reservation"
    assert sorted(lines[3:]) == [("capture", 0), ("capture", 0), ("release", 1)]
    assert studio.balance() == before - 2


def test_a_bulk_zip_unpacks_each_images_zip_into_its_folder(studio: Studio) -> None:
    response = studio.bulk([("a.jpg", images.photo_jpeg())], mode="lineart")
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
    assert "a/mystery.png" in names and "a/palette.json" in names and names[-1] == "manifest.json"


def test_fifty_one_images_are_refused_before_anything_is_charged(studio: Studio) -> None:
    events = studio.events()
    photo = images.photo_png((16, 12))
    response = studio.bulk([(f"p{i}.png", photo) for i in range(51)], mode="hex")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "too_many_images"
    assert "50" in error["message"]
    assert studio.events() == events


def test_a_bulk_the_balance_cannot_cover_is_402_before_any_work_and_nothing_is_reserved(
    services: Services, make_services: Callable[..., Services]
) -> None:
    poor = open_studio(services, plan="free")  # 5 credits, signed in with a JWT
    try:
        events = poor.events()
        available = poor.balance()
        photo = images.photo_png((16, 12))
        response = poor.bulk([(f"p{i}.png", photo) for i in range(available + 1)], mode="hex")
        assert response.status_code == 402
        assert error_of(response)["code"] == "insufficient_credits"
        assert poor.events() == events
    finally:
        poor.client.close()
        poor.generations.close()


def test_a_bulk_of_only_unusable_images_is_a_400_naming_them(studio: Studio) -> None:
    events = studio.events()
    response = studio.bulk([("a.jpg", images.text_named_jpg()), ("b.png", b"")])
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "no_usable_image"
    assert "a.jpg" in error["message"] and "b.png" in error["message"]
    assert studio.events() == events


def test_a_bulk_without_images_or_with_a_single_image_field_is_a_400(studio: Studio) -> None:
    empty = studio.bulk([], mode="hex")
    assert error_of(empty)["code"] == "missing_images"
    wrong_field = studio.post("/api/bulk", {}, [("image", "a.png", images.photo_png())])
    assert wrong_field.status_code == 400
    assert error_of(wrong_field)["code"] == "unexpected_file"


def test_a_bulk_whose_zip_cannot_be_built_releases_every_credit_and_answers_a_json_500(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unwritable_zip(*args: object, **kwargs: object) -> bytes:
        raise OSError("injected fault: the archive cannot be written")

    monkeypatch.setattr(bulk, "bulk_zip", unwritable_zip)
    before = studio.balance()
    response = studio.bulk(
        [("a.png", images.photo_png()), ("b.png", images.photo_png((64, 64)))], mode="hex", output="mystery"
    )
    assert response.status_code == 500, response.text
    assert error_of(response)["code"] == "generation_failed"
    assert studio.credit_lines() == [("reserve", -1)] * 2 + [("release", 1)] * 2
    assert all(line.reason == "generation failed: OSError" for line in studio.statement()[-2:])
    assert studio.balance() == before


def test_a_bulk_has_one_deadline_from_its_reservation_and_images_not_started_by_then_are_released(
    make_services: Callable[..., Services],
) -> None:
    hurried = open_studio(make_services(MOSAIC_RESERVATION_TIMEOUT_S="2"))  # one worker
    try:
        hurried.services.use_cases.generate.job = faults.slow
        before = hurried.balance()
        photos = [(f"p{i}.png", images.photo_png()) for i in range(3)]
        response = hurried.bulk(photos, mode="hex", output="mystery")
        assert response.status_code == 200, response.text
        assert response.headers["x-credits-charged"] == "0"
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            manifest = json.loads(archive.read("manifest.json"))
        errors = [entry["error"] for entry in manifest["images"]]
        assert [e["code"] for e in errors] == ["generation_timed_out", "not_started", "not_started"]
        assert "within 1.6 s of reserving" in errors[1]["message"]
        assert hurried.credit_lines() == [("reserve", -1)] * 3 + [("release", 1)] * 3
        assert sorted(line.reason or "" for line in hurried.statement()[-3:]) == [
            "generation failed: generation_timed_out", "not started: past the request's deadline",
            "not started: past the request's deadline",
        ]
        assert hurried.balance() == before
    finally:
        hurried.client.close()
        hurried.generations.close()
