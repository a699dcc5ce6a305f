"""`POST /api/generate` with `mode=ai`: the photo through the fake upstream, out as a line-art page."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator

import pytest

from mosaic.bootstrap import Services
from mosaic.imaging.bundle import ZIP_ENTRIES
from tests.fakes.openai_server import FakeImages
from tests.http import images
from tests.http.ai.conftest import UPSTREAM_KEY
from tests.http.generation_helpers import Studio, error_of, open_studio

Opener = Callable[..., Studio]


@pytest.fixture
def open_ai_studio(fake: FakeImages, make_services: Callable[..., Services]) -> Iterator[Opener]:
    opened: list[Studio] = []

    def open_one(*, base_url: str | None = None, timeout_s: int = 10) -> Studio:
        services = make_services(
            MOSAIC_AI_BASE_URL=fake.base_url if base_url is None else base_url,
            MOSAIC_AI_API_KEY=UPSTREAM_KEY,
            MOSAIC_AI_TIMEOUT_S=str(timeout_s),
        )
        opened.append(open_studio(services))
        return opened[-1]

    yield open_one
    for studio in opened:
        studio.client.close()
        studio.generations.close()


def test_mode_ai_turns_the_photo_into_a_lineart_zip_for_one_credit(
    open_ai_studio: Opener, fake: FakeImages
) -> None:
    studio = open_ai_studio()
    response = studio.generate(images.photo_png((120, 90)), filename="cat.png", mode="ai", hint="a cat")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == 'attachment; filename="cat-ai.zip"'
    assert response.headers["x-credits-charged"] == "1"
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        assert bundle.namelist() == [name for name, _ in ZIP_ENTRIES]
    assert fake.calls_by_path == {"images/edits": 1}
    assert "a cat" in fake.requests[-1]["prompt"] and fake.requests[-1]["size"] == "1536x1024"
    assert studio.credit_lines()[-2:] == [("reserve", -1), ("capture", 0)]
    assert studio.statement()[-1].tool == "ai"


def test_mode_ai_answers_any_single_output_too(open_ai_studio: Opener) -> None:
    studio = open_ai_studio()
    response = studio.generate(images.photo_png(), mode="ai", output="mystery", page="a4")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"


def test_an_upstream_failure_in_mode_ai_is_released_and_answers_502(
    open_ai_studio: Opener, fake: FakeImages
) -> None:
    studio = open_ai_studio()
    fake.behaviour = "not_image"
    response = studio.generate(images.photo_png(), mode="ai", output="mystery")
    assert response.status_code == 502
    assert error_of(response)["code"] == "upstream_failed"
    assert studio.credit_lines()[-2:] == [("reserve", -1), ("release", 1)]
    assert studio.balance() == 800


def test_mode_ai_without_an_upstream_is_503_and_leaves_no_event(
    open_ai_studio: Opener, fake: FakeImages
) -> None:
    studio = open_ai_studio(base_url="")
    events_before = studio.events()
    response = studio.generate(images.photo_png(), mode="ai", hint="a cat")
    assert response.status_code == 503
    assert error_of(response)["code"] == "ai_unavailable"
    assert studio.events() == events_before and fake.calls == 0


def test_a_bad_mode_ai_request_never_reaches_the_upstream(open_ai_studio: Opener, fake: FakeImages) -> None:
    studio = open_ai_studio()
    assert studio.generate(images.truncated_png(), mode="ai").status_code == 400
    assert studio.generate(images.photo_png(), mode="ai", hint="x" * 201).status_code == 400
    assert studio.generate(images.photo_png(), mode="ai", output="poster").status_code == 400
    assert fake.calls == 0


def test_a_repeated_mode_ai_request_with_its_idempotency_key_calls_the_upstream_once(
    open_ai_studio: Opener, fake: FakeImages
) -> None:
    studio = open_ai_studio()
    key = {"Idempotency-Key": "ai-page-1"}
    photo = images.photo_png()
    first = studio.generate(photo, headers=key, mode="ai", output="mystery")
    again = studio.generate(photo, headers=key, mode="ai", output="mystery")
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
    assert fake.calls == 1
    assert [kind for kind, _ in studio.credit_lines()].count("reserve") == 1
