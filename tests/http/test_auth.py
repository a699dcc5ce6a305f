"""Hostile auth is always a JSON 401 (never a 500); a key check reads nothing for a bad checksum."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
import warnings
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from mosaic.bootstrap import Services
from mosaic.domain.keys import KEY_PREFIX, key_from_body
from mosaic.http.auth import JWT_SECRET_LABEL, Authenticator, Principal
from mosaic.queries.views import KeyGrant, Views
from tests.conftest import TEST_SECRET, both_backends
from tests.http.conftest import AppClient, User, bearer, create_key, signed_in_user

BALANCE = "/api/credits/balance"


def _token(claims: dict[str, Any], *, secret: bytes | None = None, algorithm: str = "HS256") -> str:
    key = secret or hmac.new(TEST_SECRET.encode(), JWT_SECRET_LABEL, hashlib.sha256).digest()
    with warnings.catch_warnings():  # HS512 with a 32-byte key warns; the point is that it is refused
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=algorithm)


def _claims(user: User, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": user.user_id, "acct": user.account_id, "role": "user", "iat": now, "exp": now + 60}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _unsigned(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]


def _hostile_headers(user: User, key: str) -> dict[str, dict[str, str]]:
    bad_checksum = key[:-1] + ("A" if key[-1] != "A" else "B")
    return {
        "missing": {},
        "alg none": bearer(_unsigned(_claims(user))),
        "expired": bearer(_token(_claims(user, exp=int(time.time()) - 10))),
        "wrong secret": bearer(_token(_claims(user), secret=b"another-secret-" * 3)),
        "key hmac secret as jwt secret": bearer(_token(_claims(user), secret=TEST_SECRET.encode())),
        "no exp": bearer(_token(_claims(user, exp=None))),
        "no sub": bearer(_token(_claims(user, sub=None))),
        "unknown role": bearer(_token(_claims(user, role="root"))),
        "sub not a uuid": bearer(_token(_claims(user, sub="../etc"))),
        "HS512 algorithm": bearer(_token(_claims(user), algorithm="HS512")),
        "basic scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
        "bearer without token": {"Authorization": "Bearer "},
        "three words": {"Authorization": "Bearer a b"},
        "garbage": bearer("not.a.token"),
        "binary garbage": {"Authorization": "Bearer \x7f\x01\x02"},
        "huge": bearer("x" * 10_000),
        "bad checksum": bearer(bad_checksum),
        "short key": bearer(KEY_PREFIX + "abc"),
        "unknown well-formed key": bearer(key_from_body("A" * 40)),
    }


def test_every_hostile_authorization_is_a_json_401(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    key = create_key(client, user)["key"]
    for case, headers in _hostile_headers(user, key).items():
        response = client.get(BALANCE, headers=headers)
        assert response.status_code == 401, (case, response.text)
        assert response.json()["error"]["code"], case
        assert response.headers["www-authenticate"].startswith("Bearer"), case


@both_backends()
def test_a_revoked_key_is_refused_on_the_next_request(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    created = create_key(client, user)
    assert client.get(BALANCE, headers=bearer(created["key"])).status_code == 200  # now cached
    assert client.delete(f"/api/keys/{created['id']}", headers=user.auth).status_code == 204
    response = client.get(BALANCE, headers=bearer(created["key"]))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"


class CountingViews:
    def __init__(self, inner: Views, *, delay_s: float = 0.0) -> None:
        self.inner = inner
        self.key_grant_calls = 0
        self.delay_s = delay_s  # how long each lookup takes, at least

    def key_grant(self, key_hash: str) -> KeyGrant | None:
        self.key_grant_calls += 1
        time.sleep(self.delay_s)
        return self.inner.key_grant(key_hash)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_key_with_a_bad_checksum_is_refused_without_any_database_read(
    services: Services, make_client: Callable[..., AppClient]
) -> None:
    counting = CountingViews(services.views)
    services.use_cases.owners.views = counting  # type: ignore[assignment]  # what key lookups read
    client = make_client(services)
    user = signed_in_user(services, client)
    key = create_key(client, user)["key"]
    typo = key[:20] + ("x" if key[20] != "x" else "y") + key[21:]
    response = client.get(BALANCE, headers=bearer(typo))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert counting.key_grant_calls == 0
    assert client.get(BALANCE, headers=bearer(key)).status_code == 200
    assert client.get(BALANCE, headers=bearer(key)).status_code == 200
    assert counting.key_grant_calls == 1, "the second use is served from the key cache"


def test_requests_for_a_key_arriving_while_it_is_looked_up_share_that_lookup(
    services: Services, make_client: Callable[..., AppClient]
) -> None:
    client = make_client(services)
    user = signed_in_user(services, client)
    key = create_key(client, user)["key"]
    counting = CountingViews(services.views, delay_s=0.05)
    services.use_cases.owners.views = counting  # type: ignore[assignment]  # what key lookups read
    settings = services.settings
    authenticator = Authenticator(services.use_cases.owners, secret=settings.secret, token_ttl_s=settings.jwt_ttl_s)

    async def twenty_at_once() -> list[Principal]:
        calls = (authenticator.authenticate(f"Bearer {key}", api_key_allowed=True) for _ in range(20))
        return await asyncio.gather(*calls)

    principals = asyncio.run(twenty_at_once())
    assert counting.key_grant_calls == 1
    assert {p.key_id for p in principals} == {principals[0].key_id} and principals[0].key_id is not None
    authenticator.cache._entries.clear()  # expired: the next request looks it up again
    asyncio.run(twenty_at_once())
    assert counting.key_grant_calls == 2


def test_an_api_key_on_a_key_route_is_401(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    created = create_key(client, user)
    for method, path in [("GET", "/api/keys"), ("POST", "/api/keys"), ("DELETE", f"/api/keys/{created['id']}")]:
        response = client.request(method, path, headers=bearer(created["key"]), json={"name": "x"})
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "api_key_not_accepted"


@both_backends()
def test_an_api_key_needs_an_active_plan_with_api_access(services: Services, client: AppClient) -> None:
    free = signed_in_user(services, client, plan="free")
    refused = client.get(BALANCE, headers=bearer(create_key(client, free)["key"]))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "plan_required"
    assert "Commercial" in refused.json()["error"]["message"]
    assert client.get(BALANCE, headers=free.auth).status_code == 200, "the web page (JWT) still works"

    commercial = signed_in_user(services, client, plan="commercial")
    key = create_key(client, commercial)["key"]
    assert client.get(BALANCE, headers=bearer(key)).status_code == 200

    committed = services.ledger.change_subscription_status(
        account_id=uuid.UUID(commercial.account_id), sub_status="past_due"
    )
    services.settle(committed)
    lapsed = client.get(BALANCE, headers=bearer(create_key(client, commercial, "after")["key"]))
    assert lapsed.status_code == 403
    assert lapsed.json()["error"]["code"] == "subscription_past_due"
    assert "past_due" in lapsed.json()["error"]["message"]


@pytest.mark.parametrize("role", ["support", "auditor"])
def test_a_token_carries_the_role_of_its_user(services: Services, client: AppClient, role: str) -> None:
    committed = services.ledger.register_user(email=f"{role}@example.com", password="p" * 12, role=role)
    services.settle(committed)
    response = client.post("/api/auth/login", json={"email": f"{role}@example.com", "password": "p" * 12})
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["role"] == role
