"""What a serving process runs beside its routes, from start-up to shutdown.

At start: the image workers are started and warmed (so the first request does not pay for it), and
the sweeper releases reservations a crashed server left behind, then keeps doing so (DESIGN rule 3);
expired idempotency records are purged. At shutdown: the sweeper stops and the workers go away.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Final

import anyio
import anyio.to_thread

from mosaic.bootstrap import Services
from mosaic.commands.generation import Generations
from mosaic.idempotency import IdempotencyStore
from mosaic.sweeper import SWEEP_INTERVAL_S, Sweeper

log = logging.getLogger(__name__)

PURGE_INTERVAL_S: Final = 600.0
SWEEPS_PER_TIMEOUT: Final = 2  # a stale reservation is released at most 1.5 timeouts after it was made


def sweep_interval_s(reservation_timeout_s: float) -> float:
    return min(SWEEP_INTERVAL_S, reservation_timeout_s / SWEEPS_PER_TIMEOUT)


async def _purge_forever(idempotency: IdempotencyStore) -> None:
    while True:
        try:
            # abandoned on shutdown: a purge waiting on a busy database must not hold the process up
            await anyio.to_thread.run_sync(idempotency.purge_expired, abandon_on_cancel=True)
        except Exception:
            log.exception("purging expired idempotency records failed; will retry")
        await anyio.sleep(PURGE_INTERVAL_S)


@contextlib.asynccontextmanager
async def running(
    services: Services, generations: Generations, idempotency: IdempotencyStore
) -> AsyncIterator[None]:
    """Warm the pool, start the sweeper and the purge; undo it all on exit."""
    timeout_s = services.settings.reservation_timeout_s
    sweeper = Sweeper(
        services, timeout=timedelta(seconds=timeout_s), interval_s=sweep_interval_s(timeout_s)
    )
    await anyio.to_thread.run_sync(generations.warm_up)
    sweeper.start()
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_purge_forever, idempotency)
            yield
            tasks.cancel_scope.cancel()
    finally:
        await anyio.to_thread.run_sync(sweeper.stop)
        generations.close()
