"""`kill -9` with 20 generations in flight loses no credit: after a restart, within the reservation
timeout, each of them is captured (it finished) or released (by the sweeper, as an event)."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.live import create_user_with_key, fixture_as_jpeg, server_env, start_server

IN_FLIGHT = 20
RESERVATION_TIMEOUT_S = 4
DEADLINE_S = 120.0  # a bound for polling a live process, not a timing claim


def _statement(base_url: str, key: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base_url}/api/credits/history", params={"limit": 500}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    lines: list[dict[str, Any]] = response.json()["lines"]
    return lines


def _poll(base_url: str, key: str, done: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        lines = _statement(base_url, key)
        if done(lines):
            return lines
        time.sleep(0.2)  # polling another process's progress
    raise AssertionError(f"gave up waiting: {_statement(base_url, key)}")


def _post(base_url: str, key: str, photo: bytes) -> int | str:
    try:
        response = httpx.post(
            f"{base_url}/api/generate", headers={"Authorization": f"Bearer {key}"},
            files={"image": ("photo.jpg", photo)}, data={"mode": "cbn", "output": "zip"}, timeout=120,
        )
    except httpx.HTTPError as exc:
        return type(exc).__name__  # the server died under it
    return response.status_code


def test_a_crash_with_twenty_generations_in_flight_loses_no_credit(tmp_path: Path) -> None:
    env = server_env(
        f"sqlite:///{tmp_path / 'mosaic.db'}", MOSAIC_IMAGE_WORKERS="4",  # room for 20 admitted jobs
        MOSAIC_RESERVATION_TIMEOUT_S=str(RESERVATION_TIMEOUT_S),
    )
    key = create_user_with_key(env, "crash@example.com")
    photo = fixture_as_jpeg("coffee.png", tmp_path / "photo.jpg").read_bytes()
    server = start_server(env, tmp_path / "first.log")
    start = sum(line["delta_credits"] for line in _statement(server.url, key))
    clients = ThreadPoolExecutor(IN_FLIGHT)
    try:
        answers = [clients.submit(_post, server.url, key, photo) for _ in range(IN_FLIGHT)]
        _poll(server.url, key, lambda lines: Counter(line["kind"] for line in lines)["reserve"] == IN_FLIGHT)
        server.crash()
        outcomes = Counter(answer.result() for answer in answers)
    finally:
        server.stop()
        clients.shutdown()
    assert set(outcomes) <= {200, 409, "RemoteProtocolError", "ReadError", "ConnectError"}, outcomes

    restarted = start_server(env, tmp_path / "second.log")
    try:
        lines = _poll(restarted.url, key, lambda lines: _open_reservations(lines) == set())
    finally:
        restarted.stop()
    settled = Counter(line["kind"] for line in lines if line["kind"] in ("capture", "release"))
    assert settled["capture"] + settled["release"] == IN_FLIGHT, settled
    assert settled["release"] >= 1, "the crash left work unfinished"
    assert sum(line["delta_credits"] for line in lines) == start - settled["capture"]
    reasons = {line["reason"] for line in lines if line["kind"] == "release"}
    assert all(reason for reason in reasons), reasons


def _open_reservations(lines: list[dict[str, Any]]) -> set[str]:
    reserved = {line["reference"] for line in lines if line["kind"] == "reserve"}
    settled = {line["reference"] for line in lines if line["kind"] in ("capture", "release")}
    return reserved - settled
