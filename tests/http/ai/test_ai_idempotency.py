"""`Idempotency-Key` on `/api/ai-image`: a retried call never reaches the upstream twice."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import httpx

from mosaic.commands.upstream import ATTEMPTS_MAX
from tests.http.ai.conftest import AiApp

PROMPT = "a dragon reading a book"
ANSWER_WAIT_S = 60.0


def _reserves(ai: AiApp) -> int:
    return sum(1 for line in ai.statement() if line.kind == "reserve")


def test_a_repeat_with_the_same_key_replays_the_picture_and_charges_once(make_ai: Callable[..., AiApp]) -> None:
    ai = make_ai()
    key = {"Idempotency-Key": "unicorn-1"}
    first = ai.post(key, prompt=PROMPT, quality="medium")
    again = ai.post(key, quality="medium", prompt=PROMPT)  # the same fields, in another order
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["x-credits-charged"] == "3"
    assert ai.fake.calls == 1 and _reserves(ai) == 1
    assert ai.balance() == 797


def test_a_repeat_of_a_failed_call_replays_its_502_without_calling_the_upstream_again(
    make_ai: Callable[..., AiApp],
) -> None:
    ai = make_ai()
    ai.fake.behaviour = "error500"
    key = {"Idempotency-Key": "flaky-1"}
    first = ai.post(key, prompt=PROMPT)
    ai.fake.behaviour = "ok"
    again = ai.post(key, prompt=PROMPT)
    assert first.status_code == again.status_code == 502
    assert again.json() == first.json()
    assert ai.fake.calls == ATTEMPTS_MAX  # the first request's attempts, none for the repeat
    assert [(line.kind, line.delta_credits) for line in ai.statement()[-2:]] == [("reserve", -1), ("release", 1)]
    assert ai.post({"Idempotency-Key": "flaky-2"}, prompt=PROMPT).status_code == 200  # a new key works


def test_the_same_key_with_another_prompt_is_422_and_never_reaches_the_upstream(
    make_ai: Callable[..., AiApp],
) -> None:
    ai = make_ai()
    key = {"Idempotency-Key": "unicorn-2"}
    assert ai.post(key, prompt=PROMPT).status_code == 200
    other = ai.post(key, prompt="a different picture")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert ai.fake.calls == 1


def test_a_repeat_while_the_first_is_still_upstream_is_409(make_ai: Callable[..., AiApp]) -> None:
    ai = make_ai()
    ai.fake.behaviour = "hang"
    key = {"Idempotency-Key": "slow-1"}
    with ThreadPoolExecutor(max_workers=1) as pool:
        first: Future[httpx.Response] = pool.submit(ai.post, key, prompt=PROMPT)
        ai.fake.wait_for_call()
        again = ai.post(key, prompt=PROMPT)
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "request_in_progress"
        ai.fake.stopping.set()
        assert first.result(timeout=ANSWER_WAIT_S).status_code == 502
    assert ai.fake.calls_by_path["images/generations"] == ATTEMPTS_MAX
    assert _reserves(ai) == 1


def test_a_request_refused_before_charging_gives_its_key_back(make_ai: Callable[..., AiApp]) -> None:
    ai = make_ai(plan="free")  # 5 credits
    key = {"Idempotency-Key": "too-dear"}
    assert ai.post(key, prompt=PROMPT, quality="high").status_code == 402
    assert ai.post(key, prompt=PROMPT, quality="high").status_code == 402  # not a replay: tried again
    assert ai.fake.calls == 0 and _reserves(ai) == 0
