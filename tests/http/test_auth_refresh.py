"""The key and session caches look an entry in use up again ahead of its expiry, in the background:
a busy key's requests do not wait for a lookup twice a second, and nothing is served past its time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from mosaic.bootstrap import Services
from mosaic.http.auth import KEY_CACHE_TTL_S, SESSION_CACHE_TTL_S, Authenticator, KeyGrantCache, Principal
from mosaic.queries.views import KeyGrant, Views
from tests.http.conftest import AppClient, create_key, signed_in_user

WAIT_S = 10.0  # how long a step may take before the test fails instead of hanging


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1_000.0

    def __call__(self) -> float:
        return self.now_s


class GatedViews:
    """The views, with key and session lookups counted and held until `gate` is open."""

    def __init__(self, inner: Views) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.key_grants = 0
        self.token_versions = 0

    def key_grant(self, key_hash: str) -> KeyGrant | None:
        self.key_grants += 1
        assert self.gate.wait(WAIT_S)
        return self.inner.key_grant(key_hash)

    def token_version(self, user_id: str) -> int | None:
        self.token_versions += 1
        assert self.gate.wait(WAIT_S)
        return self.inner.token_version(user_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def _until(condition: Callable[[], bool]) -> None:
    """Let the event loop run until `condition` holds (a background lookup has started or ended)."""
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0.001)


async def _first_use(views: GatedViews, authenticator: Authenticator, credentials: str) -> Principal:
    """Authenticate once with the gate open (the entry is cached), then close it for what follows."""
    views.gate.set()
    principal = await authenticator.authenticate(credentials, api_key_allowed=True)
    views.gate.clear()  # lookups from here on wait until the test lets them through
    return principal


def _setup(services: Services, client: AppClient) -> tuple[GatedViews, Authenticator, FakeClock, str, str]:
    user = signed_in_user(services, client)
    key = create_key(client, user)["key"]
    views = GatedViews(services.views)
    services.use_cases.owners.views = views  # type: ignore[assignment]  # what the lookups read
    clock = FakeClock()
    settings = services.settings
    authenticator = Authenticator(
        services.use_cases.owners, secret=settings.secret, token_ttl_s=settings.jwt_ttl_s,
        cache=KeyGrantCache(clock=clock),
    )
    authenticator.sessions.clock = clock
    return views, authenticator, clock, f"Bearer {key}", f"Bearer {user.token}"


def test_a_key_in_use_is_looked_up_again_after_half_its_time_while_its_entry_still_answers(
    services: Services, make_client: Callable[..., AppClient]
) -> None:
    views, authenticator, clock, key, _ = _setup(services, make_client(services))

    async def scenario() -> None:
        first = await _first_use(views, authenticator, key)
        assert views.key_grants == 1

        clock.now_s += KEY_CACHE_TTL_S * 0.4
        await authenticator.authenticate(key, api_key_allowed=True)
        await asyncio.sleep(0.01)
        assert views.key_grants == 1, "a young entry answers alone"

        clock.now_s += KEY_CACHE_TTL_S * 0.2  # past half its time: due, not expired
        async with asyncio.timeout(WAIT_S):  # answered while its lookup is held at the gate
            second = await authenticator.authenticate(key, api_key_allowed=True)
            third = await authenticator.authenticate(key, api_key_allowed=True)
        assert first == second == third
        await _until(lambda: views.key_grants == 2)  # one refresh for both requests
        views.gate.set()
        await _until(lambda: not authenticator._grants._in_flight)

        clock.now_s += KEY_CACHE_TTL_S * 0.4  # the refreshed entry is young again
        await authenticator.authenticate(key, api_key_allowed=True)
        await asyncio.sleep(0.01)
        assert views.key_grants == 2

    asyncio.run(scenario())


def test_an_expired_entry_waits_for_its_lookup_whatever_was_refreshed_before(
    services: Services, make_client: Callable[..., AppClient]
) -> None:
    views, authenticator, clock, key, _ = _setup(services, make_client(services))

    async def scenario() -> None:
        await _first_use(views, authenticator, key)
        clock.now_s += KEY_CACHE_TTL_S
        waiting = asyncio.ensure_future(authenticator.authenticate(key, api_key_allowed=True))
        await _until(lambda: views.key_grants == 2)
        await asyncio.sleep(0.05)
        assert not waiting.done(), "an expired grant is never served: the request waits for the database"
        views.gate.set()
        async with asyncio.timeout(WAIT_S):
            await waiting

    asyncio.run(scenario())


def test_a_session_in_use_is_checked_again_after_half_its_time_while_its_entry_still_answers(
    services: Services, make_client: Callable[..., AppClient]
) -> None:
    views, authenticator, clock, _, token = _setup(services, make_client(services))

    async def scenario() -> None:
        await _first_use(views, authenticator, token)
        assert views.token_versions == 1
        clock.now_s += SESSION_CACHE_TTL_S * 0.6
        async with asyncio.timeout(WAIT_S):
            await authenticator.authenticate(token, api_key_allowed=True)
        await _until(lambda: views.token_versions == 2)
        views.gate.set()
        await _until(lambda: not authenticator._versions._in_flight)

    asyncio.run(scenario())
