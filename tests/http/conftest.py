"""HTTP test helpers: a synchronous client over httpx's ASGI transport, users, tokens, database dumps.

(`starlette.testclient` warns that its httpx is deprecated, which `filterwarnings = error` turns into
a failure; this client is the same idea: one event loop in a thread for the test's lifetime.)
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import anyio.from_thread
import httpx
import psycopg
import pytest
from argon2 import PasswordHasher
from starlette.applications import Starlette

from mosaic.bootstrap import Services
from mosaic.config import DatabaseUrl
from mosaic.http.app import create_app
from mosaic.http.ratelimit import RateLimits

PASSWORD = "correct horse battery"
CLIENT_ADDRESS = ("127.0.0.1", 40000)


class AppClient:
    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._portal_cm: AbstractContextManager[anyio.from_thread.BlockingPortal] = (
            anyio.from_thread.start_blocking_portal()
        )
        self._portal = self._portal_cm.__enter__()
        transport = httpx.ASGITransport(app=app, client=CLIENT_ADDRESS)
        self._client = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            return await self._client.request(method, url, **kwargs)

        return self._portal.call(send)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        self._portal.call(self._client.aclose)
        self._portal_cm.__exit__(None, None, None)


def fast_hashing(services: Services) -> Services:
    """argon2 with test-sized costs: the same code path, milliseconds instead of ~100 ms."""
    services.ledger.password_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return services


def memory_limits(services: Services, *, api: str = "10000/minute", login: str = "1000/minute") -> RateLimits:
    return RateLimits("memory://", api=api, login=login, key_prefix=f"test-{uuid.uuid4().hex}")


@pytest.fixture
def make_client() -> Iterator[Callable[..., AppClient]]:
    made: list[AppClient] = []

    def make(services: Services, rate_limits: RateLimits | None = None) -> AppClient:
        fast_hashing(services)
        app = create_app(services.use_cases, services.settings, rate_limits=rate_limits or memory_limits(services))
        client = AppClient(app)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(services: Services, make_client: Callable[..., AppClient]) -> AppClient:
    return make_client(services)


@dataclass(frozen=True)
class User:
    email: str
    user_id: str
    account_id: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def signed_in_user(
    services: Services, client: AppClient, *, plan: str = "commercial", email: str | None = None
) -> User:
    """A user opened through the ledger (the public sign-up only opens free accounts), signed in over HTTP."""
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
    committed = services.ledger.register_user(email=email, password=PASSWORD, plan_name=plan)
    services.settle(committed)
    response = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    registered = committed.value
    return User(email, str(registered.user_id), str(registered.account_id), response.json()["access_token"])


def staff(services: Services, client: AppClient, role: str) -> User:
    """A signed-in member of staff (`support` or `auditor`)."""
    email = f"{role}-{uuid.uuid4().hex[:6]}@example.com"
    committed = services.ledger.register_user(email=email, password=PASSWORD, role=role)
    services.settle(committed)
    response = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return User(email, str(committed.value.user_id), str(committed.value.account_id), response.json()["access_token"])


def create_key(client: AppClient, user: User, name: str = "my app") -> dict[str, Any]:
    response = client.post("/api/keys", json={"name": name}, headers=user.auth)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def dump_database(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (event store included), for greps."""
    url = DatabaseUrl.parse(database_url)
    if url.dialect == "sqlite":
        with sqlite3.connect(url.path) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return {name: conn.execute(f'SELECT * FROM "{name}"').fetchall() for name in names}
    with psycopg.connect(url.psycopg_conninfo) as pg:
        names = [
            r[0]
            for r in pg.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchall()
        ]
        return {name: pg.execute(f'SELECT * FROM "{name}"').fetchall() for name in names}  # type: ignore[arg-type]


def event_count(database_url: str) -> int:
    tables = dump_database(database_url)
    return len(tables.get("stored_events", tables.get("mosaic_events", [])))


def metric_samples(client: AppClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """`GET /metrics`, parsed: (name, labels) → value."""
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
