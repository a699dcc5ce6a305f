"""The image worker pool: generation's CPU work, in worker processes (`mosaic.commands.generate` pays for it).

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

from mosaic.commands import metrics
from mosaic.config import JOB_TIMEOUT_S_MAX
from mosaic.domain.errors import ErrorKind, Failure

log = logging.getLogger(__name__)

T = TypeVar("T")


QUEUED_JOBS_PER_WORKER = 4  # jobs waiting per worker before new ones are turned away


class GenerationBusy(Failure):
    """Every worker is busy and the queue is full: refused before anything is charged."""

    kind = ErrorKind.UNAVAILABLE
    code = "generation_busy"


class GenerationTimedOut(Failure):
    """A worker job ran past its time limit (a server limit, not a bug); its credits are released."""

    kind = ErrorKind.UNAVAILABLE
    code = "generation_timed_out"


class WorkerLost(Failure):
    """An image worker process died under the job (killed, out of memory); the pool is replaced and
    the credits released, so a retry is worth it."""

    kind = ErrorKind.UNAVAILABLE
    code = "image_worker_lost"



def _warm() -> int:
    import mosaic.imaging.pipeline  # noqa: F401  (import the heavy modules once per worker)

    return os.getpid()


class ImagePool:
    def __init__(self, *, workers: int = 0, job_timeout_s: float = JOB_TIMEOUT_S_MAX) -> None:
        self.workers = workers or os.cpu_count() or 1
        self.capacity = self.workers * (1 + QUEUED_JOBS_PER_WORKER)
        self.job_timeout_s = job_timeout_s
        self._pool = self._new_pool()
        self._in_flight = 0
        self._lock = threading.Lock()
        metrics.POOL_CAPACITY.set(self.capacity)

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
                metrics.POOL_BUSY.inc()
                raise GenerationBusy("all image workers are busy; retry in a few seconds")
            self._in_flight += jobs
            metrics.POOL_IN_FLIGHT.set(self._in_flight)
        return Admission(self, jobs)

    def _leave(self, jobs: int) -> None:
        with self._lock:
            self._in_flight -= jobs
            assert self._in_flight >= 0
            metrics.POOL_IN_FLIGHT.set(self._in_flight)

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
                    metrics.POOL_LOST.inc()
                    self._pool = self._new_pool()
                    pool.shutdown(wait=False, cancel_futures=True)
            raise WorkerLost("an image worker stopped while making this; nothing was charged; retry") from exc


class Admission:
    def __init__(self, pool: ImagePool, jobs: int) -> None:
        self._pool_owner = pool
        self._jobs = jobs
        self._left = False

    def __enter__(self) -> Admission:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._left:
            self._left = True
            self._pool_owner._leave(self._jobs)
