"""A key revoked through one server is refused there at once, and by a second server within 1 s.

Two `Services` + apps on one PostgreSQL database (background projections, as `mosaic serve` runs).
The second server's key cache runs on a fake clock, so "within 1 s" is shown without timing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mosaic.bootstrap import Services
from mosaic.http.auth import KEY_CACHE_TTL_S, KeyGrantCache
from tests.http.conftest import AppClient, bearer, create_key, signed_in_user


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1_000.0

    def __call__(self) -> float:
        return self.now_s


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_key_revoked_on_one_server_is_refused_by_another_within_one_second(
    make_services: Callable[..., Services], make_client: Callable[..., AppClient]
) -> None:
    first_services, second_services = make_services(background=True), make_services(background=True)
    first, second = make_client(first_services), make_client(second_services)
    clock = FakeClock()
    second.app.state.http.auth.cache = KeyGrantCache(clock=clock)
    user = signed_in_user(first_services, first)
    created = create_key(first, user)
    key = bearer(created["key"])
    assert first.get("/api/credits/balance", headers=key).status_code == 200
    assert second.get("/api/credits/balance", headers=key).status_code == 200  # cached on the second

    assert first.delete(f"/api/keys/{created['id']}", headers=user.auth).status_code == 204
    assert first.get("/api/credits/balance", headers=key).status_code == 401, "this server: at once"

    clock.now_s += KEY_CACHE_TTL_S  # the second server's cache entry is now as old as it may get
    refused = second.get("/api/credits/balance", headers=key)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "api_key_revoked"
    assert KEY_CACHE_TTL_S <= 1.0
