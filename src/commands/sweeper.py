"""Releases reservations nobody finished (a crash between reserve and capture), as events (rule 3).

Which accounts to look at comes from the `open_reservations` view (a hint); what to release is
decided by each account aggregate from its own events. Every serving process runs a sweeper, but one
sweeps at a time: each sweep first tries a lock shared by all of them (`exclusive`), and a process
that does not get it leaves the sweep to the one that did.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from uuid import UUID

from mosaic.commands.ledger import Ledger
from mosaic.queries.views import Views

log = logging.getLogger(__name__)

SWEEP_LOCK = "mosaic/sweeper"


class Sweeper:
    """Releases stale reservations now (`sweep`), or at start and every `interval_s` in a daemon thread."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        views: Views,
        catch_up: Callable[[], object],
        timeout: timedelta,
        interval_s: float,
        exclusive: Callable[[str], AbstractContextManager[bool]] = lambda _: nullcontext(True),
    ) -> None:
        """`catch_up` brings the views up to the log first, so no open reservation is missed;
        `exclusive(name)` says whether this process holds the named lock among all of them."""
        assert timeout.total_seconds() > 0 and interval_s > 0
        self._ledger = ledger
        self._views = views
        self._catch_up = catch_up
        self.timeout = timeout
        self.interval_s = interval_s
        self._exclusive = exclusive
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> int:
        """Release every reservation older than the timeout; how many were released (0 also when
        another process is sweeping)."""
        with self._exclusive(SWEEP_LOCK) as mine:
            if not mine:
                log.debug("another process is sweeping")
                return 0
            return self._sweep()

    def _sweep(self) -> int:
        self._catch_up()
        cutoff = (self._ledger.clock() - self.timeout).isoformat()
        released = 0
        for account_id in self._views.accounts_with_reservations_before(cutoff):
            committed = self._ledger.release_expired(account_id=UUID(account_id), timeout=self.timeout)
            released += len(committed.value)
        if released:
            log.info("released %d stale reservation(s)", released)
        return released

    def start(self) -> None:
        assert self._thread is None, "started once"
        self._thread = threading.Thread(target=self._run, name="sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            try:
                self.sweep()
            except Exception:
                log.exception("sweeping stale reservations failed; will retry")
            if self._stopping.wait(self.interval_s):
                return
