"""What a serving process runs beside its requests, from start-up to shutdown.

At start: the image workers are started and warmed (so the first request does not pay for it), and
the sweeper releases reservations a crashed server left behind, then keeps doing so (rule 3);
expired idempotency records are purged every `PURGE_INTERVAL_S`. At shutdown all of it stops and
the workers go away.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Final

import anyio
import anyio.to_thread

from mosaic.commands.idempotency import IdempotencyStore
from mosaic.commands.paid import Payments
from mosaic.commands.pool import ImagePool
from mosaic.commands.sweeper import Sweeper

log = logging.getLogger(__name__)

PURGE_INTERVAL_S: Final = 600.0
SETTLING_GRACE_S: Final = 10.0  # for requests cancelled at shutdown to release what they reserved


class Background:
    def __init__(
        self, *, pool: ImagePool, sweeper: Sweeper, idempotency: IdempotencyStore, payments: Payments
    ) -> None:
        self.pool = pool
        self.sweeper = sweeper
        self.idempotency = idempotency
        self.payments = payments

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Warm the pool, start the sweeper and the purge; undo it all on exit."""
        await anyio.to_thread.run_sync(self.pool.warm_up)
        self.sweeper.start()
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._purge_forever)
                yield
                tasks.cancel_scope.cancel()
        finally:
            if not await self.payments.drained(SETTLING_GRACE_S):
                log.error(
                    "%d paid request(s) still settling at shutdown: left to the sweeper",
                    self.payments.in_flight,
                )
            await anyio.to_thread.run_sync(self.sweeper.stop)
            self.pool.close()

    async def _purge_forever(self) -> None:
        while True:
            try:
                # abandoned on shutdown: a purge waiting on a busy database must not hold the process up
                await anyio.to_thread.run_sync(self.idempotency.purge_expired, abandon_on_cancel=True)
            except Exception:
                log.exception("purging expired idempotency records failed; will retry")
            await anyio.sleep(PURGE_INTERVAL_S)
