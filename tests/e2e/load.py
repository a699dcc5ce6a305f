"""Mixed traffic against a live server for the fault tests, and the model it is checked against.

Each client thread loops: mostly balance reads, some small paid generations. A generation carries its
own `Idempotency-Key` and is sent again with the same key after anything that is not a final answer
(a dropped connection, 503, 409 while its first try is in flight), as a well-behaved client does,
so every generation ends with one final answer. The model is then simple and strict: an account's
balance is its starting credits less what the final 200s say they charged; a connection cut after
the capture but before the answer must come back as the stored 200 on the retry, not as a second
charge.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from tests.e2e.live import cli

FINAL_ANSWER_WAIT_S = 120.0  # a generation's retries give up after this (the test then fails)
RETRY_LATER = {409, 503}
IN_PROGRESS = "request_in_progress"  # the one 409 that is not a final answer
SETTLE_S = 40.0  # more than 1.5 reservation timeouts of the fault tests (20 s): the sweeper has run by then


@dataclass
class Outcome:
    statuses: Counter[int] = field(default_factory=Counter)  # every answer, retries included
    codes: Counter[str] = field(default_factory=Counter)  # the error code of every error answer
    transport_errors: int = 0
    charged: Counter[str] = field(default_factory=Counter)  # key → credits its final 200s charged
    generations: int = 0
    unanswered: list[str] = field(default_factory=list)
    retry_after_missing: int = 0  # 503s without Retry-After
    lock: threading.Lock = field(default_factory=threading.Lock)

    def saw(self, response: httpx.Response) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code == 503 and "retry-after" not in response.headers:
                self.retry_after_missing += 1
            if response.status_code >= 400:
                try:
                    self.codes[response.json()["error"]["code"]] += 1
                except (ValueError, KeyError, TypeError):
                    self.codes["not_json"] += 1

    def failed_to_connect(self) -> None:
        with self.lock:
            self.transport_errors += 1


class MixedLoad:
    """`clients` threads on `keys` until `stop()`; `generate_share` of the requests generate."""

    def __init__(
        self, url: str, keys: list[str], photo: bytes, *, clients: int = 6, generate_share: float = 0.3,
        timeout_s: float = 30.0,
    ) -> None:
        self.url = url
        self.keys = keys
        self.photo = photo
        self.generate_share = generate_share
        self.timeout_s = timeout_s
        self.outcome = Outcome()
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)]

    def __enter__(self) -> MixedLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Outcome:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=FINAL_ANSWER_WAIT_S + 30)
        return self.outcome

    def _client(self, index: int) -> None:
        chooser = random.Random(index)
        with httpx.Client(base_url=self.url, timeout=self.timeout_s) as client:
            while not self._stopping.is_set():
                key = chooser.choice(self.keys)
                if chooser.random() < self.generate_share:
                    self._generate(client, key)
                else:
                    self._balance(client, key)

    def _balance(self, client: httpx.Client, key: str) -> None:
        try:
            self.outcome.saw(client.get("/api/credits/balance", headers={"Authorization": f"Bearer {key}"}))
        except httpx.TransportError:
            self.outcome.failed_to_connect()
            time.sleep(0.05)

    def _generate(self, client: httpx.Client, key: str) -> None:
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex}
        deadline = time.monotonic() + FINAL_ANSWER_WAIT_S
        with self.outcome.lock:
            self.outcome.generations += 1
        while time.monotonic() < deadline:
            try:
                response = client.post(
                    "/api/generate", headers=headers, files={"image": ("tiny.png", self.photo)},
                    data={"mode": "hex", "output": "mystery"},
                )
            except httpx.TransportError:
                self.outcome.failed_to_connect()
                time.sleep(0.2)
                continue
            self.outcome.saw(response)
            if response.status_code in RETRY_LATER and (response.status_code == 503 or _code(response) == IN_PROGRESS):
                time.sleep(min(2.0, float(response.headers.get("retry-after", "1")) / 2))
                continue
            if response.status_code == 200:
                with self.outcome.lock:
                    self.outcome.charged[key] += int(response.headers["x-credits-charged"])
            return
        with self.outcome.lock:
            self.outcome.unanswered.append(headers["Idempotency-Key"])


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return ""


def balance_of(url: str, key: str) -> int:
    response = httpx.get(f"{url}/api/credits/balance", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 200, response.text
    balance: int = response.json()["balance"]
    return balance


def _settled_balance(url: str, key: str, expected: int) -> int:
    """The balance once the ledger has settled: a reservation whose request the outage cut off is
    released by the sweeper only after its timeout (the servers' MOSAIC_RESERVATION_TIMEOUT_S), and
    the views catch up after a reconnect; so wait up to SETTLE_S for `expected`, then return what is."""
    deadline = time.monotonic() + SETTLE_S
    balance = balance_of(url, key)
    while balance != expected and time.monotonic() < deadline:
        time.sleep(1.0)
        balance = balance_of(url, key)
    return balance


def assert_the_ledger_matches(env: dict[str, str], url: str, keys: list[str], outcome: Outcome, start: int) -> None:
    """Every generation answered, no 500, each balance = start − charged, and the audit replay holds."""
    assert outcome.unanswered == [], "generations without a final answer"
    assert outcome.statuses[500] == 0, outcome.codes
    assert outcome.codes["not_json"] == 0, "an error answer without the JSON body"
    assert outcome.retry_after_missing == 0, "a 503 without Retry-After"
    assert sum(outcome.charged.values()) > 0, "the load charged nothing: it proved nothing"
    for key in keys:
        expected = start - outcome.charged[key]
        balance = _settled_balance(url, key, expected)
        assert balance == expected, f"{key[:12]}: balance {balance}, {start} less the {outcome.charged[key]} charged"
    assert "discrepancies: 0" in cli(env, "audit", "verify")  # and its exit status was 0


def assert_no_secret_in(log_text: str, keys: list[str], secret: str) -> None:
    """The server's log under load: JSON lines only, and no key (whole or its random part), no token,
    no server secret."""
    lines = log_text.splitlines()
    assert lines and all(line.startswith("{") for line in lines), "every line is a JSON object"
    for key in keys:
        assert key not in log_text and key[len("us_live_"):] not in log_text
    assert secret not in log_text
    assert "us_live_" not in log_text.replace("us_live_[redacted]", "")
    assert "eyJ" not in log_text, "no JWT"
