"""Releases reservations nobody finished (a crash between reserve and capture), as events (rule 3).

Which accounts to look at comes from the `open_reservations` view (a hint); what to release is
decided by each account aggregate from its own events.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from mosaic.bootstrap import Services

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 30.0


def release_stale_reservations(services: Services, *, timeout: timedelta) -> int:
    services.runner.catch_up()
    cutoff = (services.ledger.clock() - timeout).isoformat()
    released = 0
    for account_id in services.views.accounts_with_reservations_before(cutoff):
        committed = services.ledger.release_expired(account_id=UUID(account_id), timeout=timeout)
        released += len(committed.value)
    if released:
        log.info("released %d stale reservation(s)", released)
    return released


class Sweeper:
    """Runs `release_stale_reservations` at start and every `interval_s` in a daemon thread."""

    def __init__(self, services: Services, *, timeout: timedelta, interval_s: float = SWEEP_INTERVAL_S):
        self._services = services
        self._timeout = timeout
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while True:
            try:
                release_stale_reservations(self._services, timeout=self._timeout)
            except Exception:
                log.exception("sweeping stale reservations failed; will retry")
            if self._stopping.wait(self._interval_s):
                return
