"""Image generation's CPU work, and the refusals of paid work (`mosaic.commands.paid` charges for it).

CPU work runs in a bounded pool of worker processes (default one per core), never on the event loop
and never in the server's threads; a full pool answers `GenerationBusy` (503) before anything is
charged. The pool's processes come from a fork server, so they never inherit the server's threads
or locks, and they are started (and warmed) when the service starts, not on the first request.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from mosaic.domain.errors import DomainError

log = logging.getLogger(__name__)

T = TypeVar("T")


# The spec's credit table: every local mode costs one credit per image (mode=ai: `ai.COST_CREDITS_...`).
COST_CREDITS_BY_MODE: dict[str, int] = {"hex": 1, "voronoi": 1, "cbn": 1, "lineart": 1}
QUEUED_JOBS_PER_WORKER = 4  # jobs waiting per worker before new ones are turned away
JOB_TIMEOUT_S = 300.0  # a worker job taking longer is abandoned (its credits released)


class GenerationBusy(DomainError):
    code = "generation_busy"


class GenerationTimedOut(DomainError):
    """A worker job ran past its time limit; its credits are released."""

    code = "generation_timed_out"


class WorkerLost(DomainError):
    """An image worker process died under the job (killed, out of memory); the pool is replaced and
    the credits released, so a retry is worth it."""

    code = "image_worker_lost"


class AlreadyReleased(DomainError):
    """Every attempt a request may make was released (`mosaic.commands.paid.ATTEMPTS_PER_REQUEST_MAX`)."""

    code = "request_already_failed"


class AlreadyCompleted(DomainError):
    """A repeat of a request that was charged, when its stored result is no longer kept."""

    code = "request_already_completed"


def _warm() -> int:
    import mosaic.imaging.pipeline  # noqa: F401  (import the heavy modules once per worker)

    return os.getpid()


class Generations:
    def __init__(self, *, workers: int = 0, job_timeout_s: float = JOB_TIMEOUT_S) -> None:
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
        except BrokenProcessPool as exc:
            with self._lock:  # every job of the broken pool fails: replace it once
                if self._pool is pool:
                    log.error("an image worker died; starting a new pool")
                    self._pool = self._new_pool()
                    pool.shutdown(wait=False, cancel_futures=True)
            raise WorkerLost("an image worker stopped while making this; nothing was charged; retry") from exc


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
