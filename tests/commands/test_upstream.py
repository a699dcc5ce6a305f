"""The upstream client on its own: key scrubbing, the slot limit, reasons kept short."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mosaic.commands.upstream import (
    REASON_CHARS_MAX,
    Upstream,
    UpstreamBusy,
    UpstreamConfig,
    UpstreamFailed,
    scrubbed,
)
from tests.fakes.openai_server import FakeImages, serving

KEY = "sk-proj-Zx81QmW0aTq7Lp2Rk9Vb3Nc6"


@pytest.fixture
def fake() -> Iterator[FakeImages]:
    with serving() as running:
        yield running


def _upstream(base_url: str, *, timeout_s: float = 10.0, concurrency: int = 2) -> Upstream:
    config = UpstreamConfig(base_url, KEY, "gpt-image-1", timeout_s=timeout_s, concurrency=concurrency)
    return Upstream(config)


def test_the_key_and_any_word_sharing_a_long_piece_of_it_are_scrubbed() -> None:
    echoed = f"Incorrect API key provided: {KEY}. Masked: sk-proj-****************Vb3Nc6 or ...aTq7Lp2R."
    clean = scrubbed(echoed, KEY)
    assert "Zx81" not in clean and "Vb3Nc6" not in clean and "aTq7Lp2R" not in clean
    assert clean.startswith("Incorrect API key provided: [redacted]")
    assert scrubbed("nothing secret here", KEY) == "nothing secret here"
    assert scrubbed("no key configured", "") == "no key configured"


def test_the_config_never_shows_its_key() -> None:
    assert KEY not in repr(_upstream("http://127.0.0.1:9/v1").config)


def test_a_call_that_waits_longer_than_the_timeout_for_a_slot_is_busy(fake: FakeImages) -> None:
    upstream = _upstream(fake.base_url, timeout_s=1, concurrency=1)

    async def with_every_slot_taken() -> None:
        await upstream._slots.acquire()  # another request holds the only slot
        await upstream.generate(prompt="a cat", size="1024x1024", quality="low")

    with pytest.raises(UpstreamBusy, match="slots stayed busy"):
        asyncio.run(with_every_slot_taken())
    assert fake.calls == 0


def test_a_401_is_a_failure_whose_message_has_the_reason_and_not_the_key(fake: FakeImages) -> None:
    fake.behaviour = "unauthorized"
    upstream = _upstream(fake.base_url)
    with pytest.raises(UpstreamFailed) as failed:
        asyncio.run(upstream.generate(prompt="a cat", size="1024x1024", quality="low"))
    message = failed.value.message
    assert "HTTP 401: Incorrect API key provided: [redacted]" in message and KEY not in message
    assert len(message) <= REASON_CHARS_MAX + 100
