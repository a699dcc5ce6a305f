"""Paid generation: reserve → do the work → capture, or release on any failure (rule 2).

CPU work runs in a bounded pool of worker processes (default one per core), never on the event loop
and never in the server's threads; a full pool answers `GenerationBusy` (503) before anything is
charged. The pool's processes come from a fork server, so they never inherit the server's threads
or locks, and they are started (and warmed) when the service starts, not on the first request.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import multiprocessing
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import anyio.to_thread

from mosaic.commands import credits
from mosaic.commands.credits import Reserved
from mosaic.commands.ledger import Ledger
from mosaic.commands.writer import Committed, Unit
from mosaic.domain.errors import DomainError, InsufficientCredits

log = logging.getLogger(__name__)

T = TypeVar("T")


async def _in_thread(fn: Callable[..., T], **kwargs: Any) -> T:
    """Blocking ledger calls wait for a commit: run them on anyio's worker threads."""
    return await anyio.to_thread.run_sync(functools.partial(fn, **kwargs))


# The spec's credit table: every local mode costs one credit per image (mode=ai: `ai.COST_CREDITS_...`).
COST_CREDITS_BY_MODE: dict[str, int] = {"hex": 1, "voronoi": 1, "cbn": 1, "lineart": 1}
QUEUED_JOBS_PER_WORKER = 4  # jobs waiting per worker before new ones are turned away
JOB_TIMEOUT_S = 300.0  # a worker job taking longer is abandoned (its credits released)
RELEASE_REASON_CHARS_MAX = 200


class GenerationBusy(DomainError):
    code = "generation_busy"


class GenerationTimedOut(DomainError):
    """A worker job ran past its time limit; its credits are released."""

    code = "generation_timed_out"


class AlreadyReleased(DomainError):
    """The request's reservation was released earlier (a failed first attempt of the same key)."""

    code = "request_already_failed"


class AlreadyCompleted(DomainError):
    """A repeat of a request that was charged, after its stored result expired."""

    code = "request_already_completed"


@dataclass(frozen=True, slots=True)
class Charge:
    account_id: UUID
    request_id: UUID
    tool: str
    cost_credits: int
    summary: str = ""  # the request's parameters, shown to support staff next to the charge


@dataclass(frozen=True, slots=True)
class Charged:
    """What a paid request cost and what the account has left (for X-Credits-* headers)."""

    charged_credits: int
    remaining_credits: int
    position: int | None


def _warm() -> int:
    import mosaic.imaging.pipeline  # noqa: F401  (import the heavy modules once per worker)

    return os.getpid()


class Generations:
    def __init__(self, ledger: Ledger, *, workers: int = 0, job_timeout_s: float = JOB_TIMEOUT_S) -> None:
        self.ledger = ledger
        self.workers = workers or os.cpu_count() or 1
        self.capacity = self.workers * (1 + QUEUED_JOBS_PER_WORKER)
        self.job_timeout_s = job_timeout_s
        self._pool = self._new_pool()
        self._in_flight = 0
        self._lock = threading.Lock()

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=context)

    def warm_up(self) -> None:
        """Start every worker now and import the imaging code in each."""
        futures = [self._pool.submit(_warm) for _ in range(self.workers)]
        for future in futures:
            future.result()

    def close(self) -> None:
        """Stop the workers and wait for them: a worker left behind would outlive the server (and
        keep its parent's stdout open). Jobs not started are cancelled; a running one finishes."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- admission ------------------------------------------------------------------------------

    def admit(self, jobs: int = 1) -> Admission:
        """Reserve room for `jobs` pool jobs, or raise GenerationBusy (before anything is charged)."""
        with self._lock:
            if self._in_flight + jobs > self.capacity:
                raise GenerationBusy("all image workers are busy; retry in a few seconds")
            self._in_flight += jobs
        return Admission(self, jobs)

    def _leave(self, jobs: int) -> None:
        with self._lock:
            self._in_flight -= jobs
            assert self._in_flight >= 0

    async def in_pool(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in a worker process (the caller holds an Admission)."""
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            # Bounded, so a hung worker cannot hold the request and its reservation until the sweeper.
            return await asyncio.wait_for(loop.run_in_executor(pool, fn, *args), self.job_timeout_s)
        except TimeoutError:
            raise GenerationTimedOut(f"the image took longer than {self.job_timeout_s:.0f} s") from None
        except BrokenProcessPool:
            with self._lock:  # every job of the broken pool fails: replace it once
                if self._pool is pool:
                    log.error("an image worker died; starting a new pool")
                    self._pool = self._new_pool()
                    pool.shutdown(wait=False, cancel_futures=True)
            raise

    # -- the paid flow -----------------------------------------------------------------------

    async def reserve(self, charge: Charge) -> Reserved:
        committed = await _in_thread(
            self.ledger.reserve,
            account_id=charge.account_id,
            request_id=charge.request_id,
            tool=charge.tool,
            cost_credits=charge.cost_credits,
            summary=charge.summary,
        )
        return committed.value

    async def settle(self, charge: Charge, work: Awaitable[T]) -> tuple[T, Charged]:
        """With the credits reserved: await `work`, then capture; on any failure release and re-raise."""
        try:
            result = await work
        except BaseException as exc:
            reason = _reason(exc)
            await _in_thread(
                self.ledger.release, account_id=charge.account_id, request_id=charge.request_id, reason=reason
            )
            raise
        committed = await _in_thread(
            self.ledger.capture, account_id=charge.account_id, request_id=charge.request_id
        )
        return result, Charged(charge.cost_credits, committed.value, committed.position)

    async def capture(self, charge: Charge) -> int:
        """Capture one reserved charge; returns the credits available afterwards."""
        committed = await _in_thread(
            self.ledger.capture, account_id=charge.account_id, request_id=charge.request_id
        )
        return committed.value

    async def release(self, charge: Charge, exc: BaseException) -> int:
        """Release one reserved charge because of `exc`; returns the credits available afterwards."""
        with anyio.CancelScope(shield=True):  # a client that went away must not leave it reserved
            committed = await _in_thread(
                self.ledger.release, account_id=charge.account_id, request_id=charge.request_id,
                reason=_reason(exc),
            )
        return committed.value

    async def reserve_fresh(self, charge: Charge) -> Reserved:
        """`reserve`, refusing a repeat of a request that was settled already."""
        reserved = await self.reserve(charge)
        if reserved.repeat:
            _refuse_settled_repeat(reserved.state)
        return reserved

    async def reserve_each(self, charges: Sequence[Charge]) -> int:
        """Reserve every charge of one account in one ledger command: all of them, or none (402).

        Returns the credits available afterwards. A repeat of a settled request is refused as in
        `reserve_fresh`; a repeat still reserved (a crashed first attempt) is taken over.
        """
        assert charges and len({c.account_id for c in charges}) == 1, "one account per call"
        committed: Committed[int] = await _in_thread(
            self.ledger.writer.execute, command=_ReserveEach(tuple(charges))
        )
        return committed.value


def _refuse_settled_repeat(state: str) -> None:
    if state == "released":
        raise AlreadyReleased("this request failed earlier and its credits were released; use a new key")
    if state == "captured":
        raise AlreadyCompleted("this request was completed and charged earlier; its result has expired")
    assert state == "reserved", state


@dataclass(frozen=True, slots=True)
class _ReserveEach:
    """The writer command behind `Generations.reserve_each` (checks the total before any event)."""

    charges: tuple[Charge, ...]

    def __call__(self, unit: Unit) -> int:
        account = credits.account(unit, self.charges[0].account_id)
        fresh = []
        for charge in self.charges:
            state = account.request_state(charge.request_id)
            if state is None:
                fresh.append(charge)
            else:
                _refuse_settled_repeat(state)
        needed_credits = sum(c.cost_credits for c in fresh)
        if needed_credits > account.available_credits:
            raise InsufficientCredits(
                available_credits=account.available_credits, needed_credits=needed_credits
            )
        for charge in fresh:
            account.reserve(
                request_id=charge.request_id,
                tool=charge.tool,
                cost_credits=charge.cost_credits,
                summary=charge.summary,
            )
        return account.available_credits


def _reason(exc: BaseException) -> str:
    if isinstance(exc, asyncio.CancelledError):
        return "the client went away before the result was ready"
    name = getattr(exc, "code", None) or type(exc).__name__
    return f"generation failed: {name}"[:RELEASE_REASON_CHARS_MAX]


class Admission:
    def __init__(self, generations: Generations, jobs: int) -> None:
        self._generations = generations
        self._jobs = jobs
        self._left = False

    def __enter__(self) -> Admission:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._left:
            self._left = True
            self._generations._leave(self._jobs)
