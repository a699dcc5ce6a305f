"""Rate limits with the `limits` library: a fixed window per policy and identity.

Headers follow draft-ietf-httpapi-ratelimit-headers-09 (March 2025), whose fields are structured:

    RateLimit-Policy: "api";q=600;w=60     (quota q per window of w seconds)
    RateLimit: "api";r=599;t=42            (r left in this window, which resets in t seconds)

Storage is memory (one counter per process, the default) or Redis (`redis://…`, shared by every
server). The memory storage answers in microseconds, so it runs on the event loop; the Redis client is
blocking, so its calls run in a worker thread.

When Redis does not answer (down, or slower than `REDIS_TIMEOUT_S`), each process counts on its own
in memory for `LOCAL_FALLBACK_S`, then tries Redis again: the limits still hold per process (so at
most N × the limit across N processes while Redis is away), sign-in stays throttled, and nobody gets
a 500 or a 503 because a counter store went away. The ledger, not the rate limit, guards the credits.

The library's memory storage starts a `threading.Timer` from every `incr` whose last timer has run
out: under load, a thread start every 10 ms on the event loop, each waiting for the new thread to get
the interpreter, a large share of the loop's time and of its tail latency; `_LoopMemoryStorage`
starts none. A window that has ended is still dropped when its key is
next counted (the library's `get` does that), and every `SWEEP_INTERVAL_S` the library's own
expiry pass drops the keys nobody counted since.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import limits
from limits.storage import MemoryStorage, Storage, storage_from_string
from starlette.concurrency import run_in_threadpool

from mosaic.commands import metrics

log = logging.getLogger(__name__)

IDENTITY_CHARS_MAX = 300
SWEEP_INTERVAL_S = 10.0
REDIS_TIMEOUT_S = 0.5  # to connect, and for an answer: a hung Redis must not hold requests
LOCAL_FALLBACK_S = 5.0


class _LoopMemoryStorage(MemoryStorage):
    """`limits`' memory storage, for use on an event loop: no expiry timer thread (module docstring)."""

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - the library's private scheduler, mangled
        return None

    def sweep(self) -> None:
        """Drop every counter whose window has ended (the library's expiry pass)."""
        self._MemoryStorage__expire_events()  # type: ignore[attr-defined]  # mypy does not mangle


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    quota: int
    window_s: int

    @classmethod
    def parse(cls, name: str, text: str) -> Policy:
        """`text` in the `limits` notation, e.g. "600/minute" or "10 per 1 minute"."""
        item = limits.parse(text)
        return cls(name=name, quota=int(item.amount), window_s=int(item.get_expiry()))

    @property
    def header(self) -> str:
        return f'"{self.name}";q={self.quota};w={self.window_s}'


@dataclass(frozen=True, slots=True)
class Verdict:
    policy: Policy
    allowed: bool
    remaining: int
    reset_s: int

    @property
    def ratelimit_header(self) -> str:
        return f'"{self.policy.name}";r={self.remaining};t={self.reset_s}'

    def refusal_headers(self) -> dict[str, str]:
        return {
            "Retry-After": str(max(1, self.reset_s)),
            "RateLimit-Policy": self.policy.header,
            "RateLimit": self.ratelimit_header,
        }


class RateLimits:
    """The server's policies (`api` per key or user, `login` per e-mail and per address)."""

    def __init__(self, storage_uri: str, *, api: str, login: str, key_prefix: str = "mosaic") -> None:
        self.api = Policy.parse("api", api)
        self.login = Policy.parse("login", login)
        self._prefix = key_prefix
        self._local = _LoopMemoryStorage()
        if storage_uri == "memory://":
            storage: object = self._local
        else:
            storage = storage_from_string(
                storage_uri, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
            )
        assert isinstance(storage, Storage), "a synchronous storage URI (memory://, redis://)"
        self._storage = storage
        self._blocking = storage is not self._local
        self._local_until = 0.0  # monotonic time until which the shared storage is not asked
        self._next_sweep = time.monotonic() + SWEEP_INTERVAL_S

    async def hit(self, policy: Policy, identity: str) -> Verdict:
        """Count one request of `identity` under `policy`; the verdict says whether it may proceed."""
        assert 0 < len(identity) <= IDENTITY_CHARS_MAX
        key = f"{self._prefix}/{policy.name}/{identity}"
        if self._blocking and time.monotonic() >= self._local_until:
            try:
                count, reset_at = await run_in_threadpool(self._count, self._storage, key, policy.window_s)
            except Exception as exc:  # the shared counter store is away: count here for a while
                log.warning(
                    "rate-limit storage failed (%s); counting in this process for %g s", exc, LOCAL_FALLBACK_S
                )
                metrics.RATE_LIMITER_FAILURES.inc()
                self._local_until = time.monotonic() + LOCAL_FALLBACK_S
                count, reset_at = self._count_locally(key, policy.window_s)
        else:
            count, reset_at = self._count_locally(key, policy.window_s)
        return Verdict(
            policy=policy,
            allowed=count <= policy.quota,
            remaining=max(0, policy.quota - count),
            reset_s=max(0, math.ceil(reset_at - time.time())),
        )

    @staticmethod
    def _count(storage: Storage, key: str, window_s: int) -> tuple[int, float]:
        count = int(storage.incr(key, window_s))
        return count, float(storage.get_expiry(key))

    def _count_locally(self, key: str, window_s: int) -> tuple[int, float]:
        counted = self._count(self._local, key, window_s)
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_INTERVAL_S
            self._local.sweep()
        return counted

    def reset(self) -> None:
        self._storage.reset()
        self._local.reset()
