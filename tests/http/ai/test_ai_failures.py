"""Every way the upstream can fail releases the reservation; none of them ties up the server."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import httpx
import pytest

from mosaic.commands.upstream import ATTEMPTS_MAX
from tests.fakes.openai_server import REFUSAL, Behaviour
from tests.http.ai.conftest import UPSTREAM_KEY, AiApp
from tests.http.conftest import dump_database

PROMPT = "a lighthouse on a rocky coast"
HANG_TIMEOUT_S = 1  # the upstream timeout of the tests that hang or answer too slowly
ANSWER_WAIT_S = 60.0  # "it answered rather than hanging forever": far above every configured timeout

FAILURES: list[tuple[Behaviour, str]] = [
    ("error500", "The server had an error while processing your request."),
    ("malformed", "malformed answer: not JSON"),
    ("not_image", "picture is unusable"),
    ("unauthorized", "Incorrect API key provided"),
    ("slow", f"did not answer within {HANG_TIMEOUT_S} s"),
    ("hang", f"did not answer within {HANG_TIMEOUT_S} s"),
]


def _reserve_then_release(ai: AiApp, cost: int) -> None:
    last_two = ai.statement()[-2:]
    assert [(line.kind, line.delta_credits) for line in last_two] == [("reserve", -cost), ("release", cost)]
    assert last_two[0].reference == last_two[1].reference
    assert last_two[1].reason


@pytest.mark.parametrize(("behaviour", "reason"), FAILURES)
def test_an_upstream_failure_releases_the_reservation_and_answers_502_with_its_reason(
    make_ai: Callable[..., AiApp], behaviour: Behaviour, reason: str
) -> None:
    ai = make_ai(timeout_s=HANG_TIMEOUT_S)
    ai.fake.behaviour = behaviour
    ai.fake.delay_s = HANG_TIMEOUT_S * 5.0
    response = ai.post(prompt=PROMPT, quality="medium")
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "upstream_failed" and reason in error["message"]
    assert UPSTREAM_KEY not in response.text
    _reserve_then_release(ai, cost=3)
    assert ai.balance() == 800


def test_a_refused_prompt_is_released_and_answers_400_with_the_upstreams_reason(
    make_ai: Callable[..., AiApp],
) -> None:
    ai = make_ai()
    ai.fake.behaviour = "refuse"
    response = ai.post(prompt=PROMPT, quality="high")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "upstream_refused" and REFUSAL in error["message"]
    _reserve_then_release(ai, cost=10)
    assert ai.balance() == 800


def test_a_5xx_is_retried_a_bounded_number_of_times_and_a_4xx_never(make_ai: Callable[..., AiApp]) -> None:
    ai = make_ai()
    ai.fake.behaviour = "error500"
    assert ai.post(prompt=PROMPT).status_code == 502
    assert ai.fake.calls == ATTEMPTS_MAX
    for behaviour in ("refuse", "unauthorized"):
        ai.fake.behaviour = behaviour  # type: ignore[assignment]
        before = ai.fake.calls
        assert ai.post(prompt=PROMPT).status_code in (400, 502)
        assert ai.fake.calls == before + 1


def test_an_upstream_that_refuses_connections_is_retried_then_502(make_ai: Callable[..., AiApp]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ai = make_ai(base_url=f"http://127.0.0.1:{port}/v1")
    response = ai.post(prompt=PROMPT)
    assert response.status_code == 502
    assert f"failed {ATTEMPTS_MAX} times" in response.json()["error"]["message"]
    _reserve_then_release(ai, cost=1)


def test_a_hanging_upstream_never_ties_up_the_event_loop(make_ai: Callable[..., AiApp]) -> None:
    ai = make_ai()
    ai.fake.behaviour = "hang"
    with ThreadPoolExecutor(max_workers=1) as pool:
        hanging: Future[httpx.Response] = pool.submit(ai.post, prompt=PROMPT)
        ai.fake.wait_for_call()
        assert ai.client.get("/healthz").status_code == 200
        assert ai.client.get("/api/credits/balance", headers=ai.user.auth).status_code == 200
        assert not hanging.done()  # both answered while the AI request was still waiting upstream
        ai.fake.stopping.set()  # the upstream now fails fast: the request ends with a 502
        assert hanging.result(timeout=ANSWER_WAIT_S).status_code == 502
    _reserve_then_release(ai, cost=1)


def test_twenty_concurrent_requests_with_a_cap_of_four_keep_four_upstream_calls_and_charge_once_each(
    make_ai: Callable[..., AiApp],
) -> None:
    ai = make_ai(concurrency=4)
    ai.fake.behaviour = "slow"
    ai.fake.delay_s = 0.2
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: ai.post(prompt=PROMPT), range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    assert ai.fake.calls == 20
    assert ai.fake.in_flight_max <= 4
    lines = ai.statement()
    reserves = [line.reference for line in lines if line.kind == "reserve"]
    captures = [line.reference for line in lines if line.kind == "capture"]
    assert len(set(reserves)) == len(reserves) == 20 and sorted(captures) == sorted(reserves)
    assert all(r.headers["x-credits-charged"] == "1" for r in responses)
    assert ai.balance() == 780


def test_the_upstream_key_never_appears_in_a_response_a_log_line_or_an_event(
    make_ai: Callable[..., AiApp], caplog: pytest.LogCaptureFixture, database_url: str
) -> None:
    caplog.set_level(logging.DEBUG)
    ai = make_ai()
    responses = []
    for behaviour in ("ok", "error500", "unauthorized", "refuse", "malformed"):
        ai.fake.behaviour = behaviour  # type: ignore[assignment]
        responses.append(ai.post(prompt=PROMPT))
    ai.fake.answer = "url"
    ai.fake.behaviour = "ok"
    responses.append(ai.post(prompt=PROMPT))
    assert [r.status_code for r in responses] == [200, 502, 502, 400, 502, 200]
    assert set(ai.fake.authorizations) == {f"Bearer {UPSTREAM_KEY}"}  # it was sent, to the upstream only
    fragment = UPSTREAM_KEY[-12:]
    for response in responses:
        seen = response.text if response.status_code != 200 else ""
        assert fragment not in seen + repr(dict(response.headers))
    logged = caplog.text + "".join(repr(record.__dict__) for record in caplog.records)
    assert "HTTP Request" in logged  # httpx's own log lines were captured, at DEBUG
    assert fragment not in logged
    assert fragment not in repr(dump_database(database_url))
    assert fragment not in repr(ai.services.settings) + repr(ai.services.ai.config)


def test_a_slot_left_by_a_failed_call_is_given_back(make_ai: Callable[..., AiApp]) -> None:
    ai = make_ai(concurrency=1)
    for behaviour in ("error500", "refuse", "malformed", "ok"):
        ai.fake.behaviour = behaviour  # type: ignore[assignment]
        ai.post(prompt=PROMPT)
    assert ai.post(prompt=PROMPT).status_code == 200  # with the one slot kept, this would be 503 ai_busy
