"""Rate limits per key or user, in memory and in Redis, with draft-09 RateLimit headers."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Callable

import pytest

from mosaic.bootstrap import Services
from mosaic.http.ratelimit import RateLimits, Verdict, _LoopMemoryStorage
from tests.http.conftest import PASSWORD, AppClient, bearer, create_key, metric_samples, signed_in_user

REDIS_URI = "redis://127.0.0.1:6379"
RATELIMIT = re.compile(r'^"api";r=(\d+);t=(\d+)$')


def _limits(storage: str, *, api: str = "3/minute", login: str = "1000/minute") -> RateLimits:
    return RateLimits(storage, api=api, login=login, key_prefix=f"test-{uuid.uuid4().hex}")


@pytest.mark.parametrize("storage", ["memory://", REDIS_URI])
def test_the_fourth_request_in_a_minute_is_429_with_retry_after_and_policy(
    services: Services, make_client: Callable[..., AppClient], storage: str
) -> None:
    client = make_client(services, _limits(storage, api="3/minute"))
    user = signed_in_user(services, client)
    key = create_key(client, user)["key"]  # one request of the user's (JWT) quota
    ok = [client.get("/api/credits/balance", headers=bearer(key)) for _ in range(3)]
    assert [r.status_code for r in ok] == [200, 200, 200]
    remaining = [int(RATELIMIT.match(r.headers["ratelimit"]).group(1)) for r in ok]  # type: ignore[union-attr]
    assert remaining == [2, 1, 0]
    refused = client.get("/api/credits/balance", headers=bearer(key))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-policy"] == '"api";q=3;w=60'
    assert RATELIMIT.match(refused.headers["ratelimit"])
    assert refused.headers["ratelimit"].startswith('"api";r=0;')
    assert client.get("/api/credits/balance", headers=user.auth).status_code == 200, "the user has its own"


def test_each_key_has_its_own_quota(services: Services, make_client: Callable[..., AppClient]) -> None:
    client = make_client(services, _limits("memory://", api="2/minute"))
    user = signed_in_user(services, client)
    first, second = create_key(client, user, "a")["key"], create_key(client, user, "b")["key"]
    assert [client.get("/api/credits/balance", headers=bearer(first)).status_code for _ in range(3)] == [
        200, 200, 429,
    ]
    assert client.get("/api/credits/balance", headers=bearer(second)).status_code == 200


@pytest.mark.parametrize("storage", ["memory://", REDIS_URI])
def test_sign_in_is_throttled_per_email(
    services: Services, make_client: Callable[..., AppClient], storage: str
) -> None:
    client = make_client(services, _limits(storage, login="3/minute"))
    committed = services.ledger.register_user(email="ada@example.com", password=PASSWORD)
    services.settle(committed)
    attempts = [
        client.post("/api/auth/login", json={"email": "ada@example.com", "password": "guess number 1"})
        for _ in range(4)
    ]
    assert [r.status_code for r in attempts] == [401, 401, 401, 429]
    assert "retry-after" in attempts[-1].headers
    right = client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD})
    assert right.status_code == 429, "the right password waits too: no oracle while throttled"


def test_sign_in_is_throttled_per_client_address(
    services: Services, make_client: Callable[..., AppClient]
) -> None:
    client = make_client(services, _limits("memory://", login="3/minute"))
    statuses = [
        client.post("/api/auth/login", json={"email": f"u{i}@example.com", "password": PASSWORD}).status_code
        for i in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_two_servers_share_a_redis_quota(services: Services, make_client: Callable[..., AppClient]) -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    first = make_client(services, RateLimits(REDIS_URI, api="2/minute", login="9/minute", key_prefix=prefix))
    second = make_client(services, RateLimits(REDIS_URI, api="2/minute", login="9/minute", key_prefix=prefix))
    user = signed_in_user(services, first)
    assert first.get("/api/credits/balance", headers=user.auth).status_code == 200
    assert second.get("/api/credits/balance", headers=user.auth).status_code == 200
    assert first.get("/api/credits/balance", headers=user.auth).status_code == 429


def test_an_unreachable_rate_limit_store_is_counted_in_the_process_instead_never_a_500_or_503(
    services: Services, make_client: Callable[..., AppClient]
) -> None:
    client = make_client(services, _limits("redis://127.0.0.1:1", api="3/minute"))
    user = signed_in_user(services, make_client(services))
    statuses = [client.get("/api/credits/balance", headers=user.auth).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # the limit still holds, counted here
    assert metric_samples(client)[("mosaic_rate_limiter_failures_total", frozenset())] >= 1


def _hits(limits: RateLimits, identities: list[str]) -> list[Verdict]:
    async def hits() -> list[Verdict]:
        return [await limits.hit(limits.api, identity) for identity in identities]

    return asyncio.run(hits())


def test_counting_in_memory_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # The library's memory storage starts a timer thread from `incr`; on the event loop each start
    # waits for the new thread to get the interpreter.
    def no_thread(*args: object, **kwargs: object) -> None:
        raise AssertionError("a thread was started to count a request")

    limits = _limits("memory://", api="1000/minute")
    monkeypatch.setattr("threading.Timer", no_thread)
    _hits(limits, [f"key:{i % 3}" for i in range(150)])
    time.sleep(0.05)  # the library's timer runs out after 10 ms; its next count would start one
    verdicts = _hits(limits, [f"key:{i % 3}" for i in range(150)])
    assert [v.remaining for v in verdicts[-3:]] == [900, 900, 900]


def test_a_memory_window_that_has_ended_starts_again_and_is_swept(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = _limits("memory://", api="2/minute")
    assert [v.allowed for v in _hits(limits, ["key:a"] * 3 + ["key:b"])] == [True, True, False, True]
    later = time.time() + 61
    monkeypatch.setattr("time.time", lambda: later)
    assert _hits(limits, ["key:a"])[0].remaining == 1  # a new window
    limits._next_sweep = 0.0  # the next count sweeps
    _hits(limits, ["key:c"])
    storage = limits._storage
    assert isinstance(storage, _LoopMemoryStorage)
    assert not any(key.endswith("key:b") for key in storage.storage)  # nobody counted it since
    assert any(key.endswith("key:a") for key in storage.storage)
