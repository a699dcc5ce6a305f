"""64 clients, two `mosaic serve` processes, one PostgreSQL database, one account, `/api/generate`:
exactly the affordable number of requests succeed, the rest are 402, the balance ends at 0, and a
request repeated with its Idempotency-Key is never charged twice."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from mosaic.bootstrap import build
from tests.conftest import settings_for
from tests.e2e.live import PASSWORD, cli, server_env, serving
from tests.http.images import photo_png

CLIENTS = 64
REQUESTS_PER_CLIENT = 2
GRANT_CREDITS = 30
RETRYABLE = {409, 503}  # busy pool, busy ledger, or the same key still in flight
RETRIES_MAX = 200


def _send(client: httpx.Client, headers: dict[str, str], photo: bytes) -> int:
    """POST until the answer is final (not a 'retry later'); returns its status."""
    for _ in range(RETRIES_MAX):
        response = client.post(
            "/api/generate", headers=headers, files={"image": ("tiny.png", photo)},
            data={"mode": "hex", "output": "mystery"},
        )
        if response.status_code not in RETRYABLE:
            return response.status_code
        time.sleep(float(response.headers.get("retry-after", "1")) / 4)  # a client's back-off
    raise AssertionError("still busy after every retry")


def _client(base_url: str, token: str, photo: bytes) -> list[tuple[str, int]]:
    """Each request twice with its key: (key, status) of every final answer."""
    answers = []
    with httpx.Client(base_url=base_url, timeout=120) as client:
        for _ in range(REQUESTS_PER_CLIENT):
            key = uuid.uuid4().hex
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
            answers.append((key, _send(client, headers, photo)))
            answers.append((key, _send(client, headers, photo)))
    return answers


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_sixty_four_clients_on_two_servers_spend_exactly_the_accounts_credits(
    database_url: str, tmp_path: Path
) -> None:
    env = server_env(database_url, MOSAIC_IMAGE_WORKERS="1", MOSAIC_RATELIMIT="100000/minute")
    cli(env, "users", "create", "shop@example.com", stdin=PASSWORD + "\n")  # a free plan
    services = build(settings_for(database_url), background=False)
    try:
        user = services.views.user_by_email("shop@example.com")
        assert user is not None
        services.ledger.grant_credits(
            account_id=uuid.UUID(user.account_id), amount_credits=GRANT_CREDITS, reason="load test",
            issued_by="support@example.com",
        )
        services.runner.catch_up()
        balance = services.views.balance(user.account_id)
        assert balance is not None
        affordable = balance.balance
        photo = photo_png((48, 32))
        with serving(env, tmp_path / "a.log") as a, serving(env, tmp_path / "b.log") as b:
            login = httpx.post(f"{a.url}/api/auth/login", json={"email": "shop@example.com", "password": PASSWORD})
            token = login.json()["access_token"]
            with ThreadPoolExecutor(CLIENTS) as pool:
                urls = [(a if n % 2 else b).url for n in range(CLIENTS)]
                answers = [a for done in pool.map(lambda url: _client(url, token, photo), urls) for a in done]
        services.runner.catch_up()
        final = services.views.balance(user.account_id)
        lines = services.views.statement(user.account_id, limit=500)
    finally:
        services.close()

    first_answers = dict(answers[::2])
    assert Counter(first_answers.values()) == {200: affordable, 402: CLIENTS * REQUESTS_PER_CLIENT - affordable}
    repeats = dict(answers[1::2])
    assert repeats == first_answers, "a repeat answers as the first did"
    assert final is not None and final.balance == 0 and final.reserved_credits == 0
    captured = [line.reference for line in lines if line.kind == "capture"]
    reserved = [line.reference for line in lines if line.kind == "reserve"]
    assert len(captured) == len(set(captured)) == affordable, "no request charged twice"
    assert sorted(reserved) == sorted(captured), "a 402 leaves no event"
