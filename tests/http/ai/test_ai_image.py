"""`POST /api/ai-image` against a real HTTP server speaking the OpenAI images API."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mosaic.commands.ai import templates
from tests.conftest import both_backends
from tests.fakes.openai_server import PICTURE_SCALE
from tests.http.ai.conftest import UPSTREAM_KEY, AiApp, png_size
from tests.http.conftest import create_key

PROMPT = "a cute unicorn in a flower garden"


@both_backends()
@pytest.mark.parametrize(("quality", "cost"), [("low", 1), ("medium", 3), ("high", 10)])
def test_each_quality_charges_its_credits_and_answers_a_png(
    make_ai: Callable[..., AiApp], quality: str, cost: int
) -> None:
    ai = make_ai()
    response = ai.post(prompt=PROMPT, style="watercolor", size="1536x1024", quality=quality)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert png_size(response.content) == (1536 // PICTURE_SCALE, 1024 // PICTURE_SCALE)
    assert response.headers["x-credits-charged"] == str(cost)
    assert response.headers["x-credits-remaining"] == str(800 - cost)
    assert ai.balance() == 800 - cost
    assert [(line.kind, line.delta_credits) for line in ai.statement()[-2:]] == [("reserve", -cost), ("capture", 0)]
    sent = ai.fake.requests[-1]
    assert sent["path"] == "images/generations" and sent["model"] == "gpt-image-1"
    assert (sent["size"], sent["quality"], sent["n"]) == ("1536x1024", quality, 1)
    assert sent["prompt"] == templates().styles["watercolor"].replace("{prompt}", PROMPT)
    assert ai.fake.authorizations == [f"Bearer {UPSTREAM_KEY}"]


def test_the_spec_defaults_are_coloring_1024_square_and_low_quality_through_an_api_key(
    make_ai: Callable[..., AiApp],
) -> None:
    ai = make_ai()
    key = create_key(ai.client, ai.user)["key"]
    response = ai.client.post(
        "/api/ai-image", files={"prompt": (None, PROMPT)}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-credits-charged"] == "1"
    sent = ai.fake.requests[-1]
    assert (sent["size"], sent["quality"]) == ("1024x1024", "low")
    assert sent["prompt"].startswith("A black-and-white coloring page") and PROMPT in sent["prompt"]


def test_a_urlencoded_form_works_too(make_ai: Callable[..., AiApp]) -> None:
    ai = make_ai()
    response = ai.client.post("/api/ai-image", data={"prompt": PROMPT, "quality": "medium"}, headers=ai.user.auth)
    assert response.status_code == 200, response.text
    assert response.headers["x-credits-charged"] == "3"


@pytest.mark.parametrize("picture", ["JPEG", "WEBP"])
def test_a_url_answer_is_fetched_without_the_key_and_re_encoded_as_png(
    make_ai: Callable[..., AiApp], picture: str
) -> None:
    ai = make_ai()
    ai.fake.answer = "url"
    ai.fake.picture = picture  # type: ignore[assignment]
    response = ai.post(prompt=PROMPT, size="1024x1536")
    assert response.status_code == 200, response.text
    assert png_size(response.content) == (1024 // PICTURE_SCALE, 1536 // PICTURE_SCALE)
    assert ai.fake.file_fetches == 1
    assert ai.fake.file_authorizations == [""]


INVALID_FORMS: list[dict[str, str]] = [
    {"style": "cartoon"},
    {"prompt": "ab"},
    {"prompt": "   a    "},
    {"prompt": "x" * 1001},
    {"prompt": "a cat\x00"},
    {"prompt": PROMPT, "style": "cubist"},
    {"prompt": PROMPT, "size": "512x512"},
    {"prompt": PROMPT, "quality": "ultra"},
    {"prompt": PROMPT, "quality": "LOW"},
]


def test_a_request_that_fails_validation_is_400_never_charged_and_never_reaches_the_upstream(
    make_ai: Callable[..., AiApp],
) -> None:
    ai = make_ai()
    lines_before = len(ai.statement())
    for fields in INVALID_FORMS:
        response = ai.post(**fields)
        assert response.status_code == 400, (fields, response.text)
        assert response.json()["error"]["code"] == "invalid_input"
    wrong_shapes = [
        {"files": {"prompt": (None, PROMPT), "image": ("a.png", b"\x89PNG", "image/png")}},
        {"files": [("prompt", (None, PROMPT)), ("prompt", (None, PROMPT))]},
        {"json": {"prompt": PROMPT}},
        {"content": b"prompt=" + b"x" * 70_000, "headers": {"content-type": "application/x-www-form-urlencoded"}},
    ]
    for shape in wrong_shapes:
        headers = {**ai.user.auth, **shape.pop("headers", {})}  # type: ignore[dict-item]
        response = ai.client.post("/api/ai-image", headers=headers, **shape)
        assert response.status_code in (400, 413), (shape, response.text)
    assert ai.fake.calls == 0
    assert len(ai.statement()) == lines_before


def test_insufficient_credits_is_402_and_never_reaches_the_upstream(make_ai: Callable[..., AiApp]) -> None:
    ai = make_ai(plan="free")  # 5 credits
    response = ai.post(prompt=PROMPT, quality="high")
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert ai.fake.calls == 0
    assert ai.balance() == 5


@both_backends()
def test_without_an_upstream_the_answer_is_503_ai_unavailable_and_nothing_is_charged(
    make_ai: Callable[..., AiApp],
) -> None:
    ai = make_ai(base_url="")
    lines_before = len(ai.statement())
    response = ai.post(prompt=PROMPT, quality="high")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "ai_unavailable" and "MOSAIC_AI_BASE_URL" in error["message"]
    assert len(ai.statement()) == lines_before
    assert ai.balance() == 800
    assert ai.fake.calls == 0
