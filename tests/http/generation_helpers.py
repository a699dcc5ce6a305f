"""A test app with a real worker pool, and what the generation tests read back (statement, events)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from mosaic.bootstrap import Services
from mosaic.commands.pool import ImagePool
from mosaic.http.app import create_app
from mosaic.queries.views import STATEMENT_PAGE_MAX, StatementLine
from tests.http.conftest import AppClient, User, create_key, fast_hashing, memory_limits, signed_in_user


@dataclass
class Studio:
    services: Services
    client: AppClient
    user: User
    key: str

    @property
    def generations(self) -> ImagePool:
        return self.services.pool

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def generate(
        self, image: bytes | None, *, filename: str = "photo.png", headers: dict[str, str] | None = None,
        **fields: str,
    ) -> httpx.Response:
        files = [] if image is None else [("image", filename, image)]
        return self.post("/api/generate", fields, files, headers)

    def bulk(
        self, images: list[tuple[str, bytes]], *, headers: dict[str, str] | None = None, **fields: str
    ) -> httpx.Response:
        return self.post("/api/bulk", fields, [("images", name, data) for name, data in images], headers)

    def post(
        self, path: str, fields: dict[str, str], files: list[tuple[str, str, bytes]],
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body, content_type = multipart_body(fields, files)
        return self.client.post(
            path, content=body, headers={**self.auth, "Content-Type": content_type, **(headers or {})}
        )

    def statement(self) -> list[StatementLine]:
        self.services.runner.catch_up()
        return self.services.views.statement(self.user.account_id, limit=STATEMENT_PAGE_MAX)

    def credit_lines(self) -> list[tuple[str, int]]:
        """(kind, delta) of every reserve/capture/release line, in order."""
        return [(line.kind, line.delta_credits) for line in self.statement() if line.kind in ("reserve", "capture", "release")]

    def balance(self) -> int:
        self.services.runner.catch_up()
        found = self.services.views.balance(self.user.account_id)
        assert found is not None
        return found.balance

    def events(self) -> int:
        """How many events the store holds (every aggregate): 'nothing charged' means this stays put."""
        self.services.runner.catch_up()
        return self.services.runner.position


def multipart_body(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body (fields, then files) with a fixed boundary, and its Content-Type."""
    boundary = "mosaic-test-boundary-7f3a"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, data in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def error_of(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json", response.headers
    error: dict[str, Any] = response.json()["error"]
    assert error["request_id"] == response.headers["x-request-id"]
    return error


def open_studio(services: Services, *, plan: str = "commercial") -> Studio:
    """An app over `services`, whose pool has the tests' one worker (`tests.conftest.settings_for`)."""
    fast_hashing(services)
    client = AppClient(create_app(services.use_cases, services.settings, rate_limits=memory_limits(services)))
    user = signed_in_user(services, client, plan=plan)
    key = create_key(client, user)["key"] if plan == "commercial" else user.token
    return Studio(services, client, user, key)


@pytest.fixture
def studio(services: Services) -> Iterator[Studio]:
    made = open_studio(services)
    yield made
    made.client.close()
    made.generations.close()
