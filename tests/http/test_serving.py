"""The serving process's own defences, on a real socket: slow and idle connections are cut, and
`X-Forwarded-For` names the client only when the peer is a trusted proxy."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from mosaic.bootstrap import Services
from mosaic.http import server
from mosaic.http.app import create_app
from tests.e2e.live import free_port
from tests.http.conftest import fast_hashing, memory_limits

STARTUP_S = 10.0


@contextmanager
def serving(services: Services, **options: object) -> Iterator[str]:
    """The app on a loopback port with the production options (logging left to pytest)."""
    port = free_port()
    settings = services.settings
    config = uvicorn.Config(
        create_app(services.use_cases, settings, rate_limits=memory_limits(services, login="3/minute")),
        **{**server.uvicorn_options(settings, "127.0.0.1", port), "log_config": None, **options},
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_S
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


def _closed_by_server(sock: socket.socket, dribble: Callable[[], bytes | None], *, tries: int) -> bool:
    """Send what `dribble` gives every 0.1 s; True once the server has closed the connection."""
    sock.settimeout(0.1)
    for _ in range(tries):
        chunk = dribble()
        try:
            if chunk:
                sock.sendall(chunk)
            if sock.recv(1024) == b"":
                return True
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def test_a_slow_loris_and_an_idle_connection_are_dropped(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "HEADERS_TIMEOUT_S", 0.5)
    with serving(services) as url:
        port = int(url.rsplit(":", 1)[1])
        header_bytes = iter(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000)
        with socket.create_connection(("127.0.0.1", port)) as slow:
            assert _closed_by_server(slow, lambda: bytes([next(header_bytes)]), tries=50)
        with socket.create_connection(("127.0.0.1", port)) as idle:
            assert _closed_by_server(idle, lambda: None, tries=50)
        assert httpx.get(f"{url}/healthz").status_code == 200  # a prompt client is served as ever


def _sign_in_attempts(url: str, forwarded_for: str, count: int) -> list[int]:
    return [
        httpx.post(
            f"{url}/api/auth/login", json={"email": f"nobody{i}@example.com", "password": "not this one"},
            headers={"X-Forwarded-For": forwarded_for},
        ).status_code
        for i in range(count)
    ]


@pytest.mark.parametrize("trusted", [True, False])
def test_sign_in_is_throttled_by_the_forwarded_address_only_behind_a_trusted_proxy(
    make_services: Callable[..., Services], trusted: bool
) -> None:
    services = fast_hashing(make_services(MOSAIC_TRUSTED_PROXIES="127.0.0.1" if trusted else ""))
    with serving(services) as url:
        first = _sign_in_attempts(url, "203.0.113.7", 4)
        other = _sign_in_attempts(url, "198.51.100.9", 1)
    assert first == [401, 401, 401, 429]  # 3 a minute per address (each e-mail tried once)
    # behind a trusted proxy another client is another address; otherwise the header is a lie
    # anyone could tell, and every attempt comes from the proxy's one address
    assert other == ([401] if trusted else [429])
