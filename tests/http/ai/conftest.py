"""The app wired to a fake OpenAI images API on loopback (`tests.fakes.openai_server`)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image

from mosaic.bootstrap import Services
from mosaic.queries.views import StatementLine
from tests.fakes.openai_server import FakeImages, serving
from tests.http.conftest import AppClient, User, signed_in_user

AI_IMAGE = "/api/ai-image"
UPSTREAM_KEY = "sk-test-" + uuid.uuid4().hex + uuid.uuid4().hex[:8]
TIMEOUT_S = 10  # the upstream timeout of most tests; hang tests use 1


@dataclass
class AiApp:
    services: Services
    client: AppClient
    user: User
    fake: FakeImages

    def post(self, headers: dict[str, str] | None = None, **fields: str) -> httpx.Response:
        """POST the fields as a multipart form, as `curl -F` does."""
        files: Any = {name: (None, value) for name, value in fields.items()}
        return self.client.post(AI_IMAGE, files=files, headers={**self.user.auth, **(headers or {})})

    def statement(self) -> list[StatementLine]:
        self.services.runner.catch_up()
        return self.services.views.statement(self.user.account_id, limit=500)

    def balance(self) -> int:
        self.services.runner.catch_up()
        response = self.client.get("/api/credits/balance", headers=self.user.auth)
        assert response.status_code == 200, response.text
        balance: int = response.json()["balance"]
        return balance


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.size


@pytest.fixture
def fake() -> Iterator[FakeImages]:
    with serving() as running:
        yield running


@pytest.fixture
def make_ai(
    fake: FakeImages, make_services: Callable[..., Services], make_client: Callable[..., AppClient]
) -> Callable[..., AiApp]:
    def make(
        *, timeout_s: int = TIMEOUT_S, concurrency: int = 4, base_url: str | None = None, plan: str = "commercial"
    ) -> AiApp:
        services = make_services(
            MOSAIC_AI_BASE_URL=fake.base_url if base_url is None else base_url,
            MOSAIC_AI_API_KEY=UPSTREAM_KEY,
            MOSAIC_AI_TIMEOUT_S=str(timeout_s),
            MOSAIC_AI_CONCURRENCY=str(concurrency),
        )
        client = make_client(services)
        return AiApp(services, client, signed_in_user(services, client, plan=plan), fake)

    return make
