"""Liveness and readiness: is the database there, is its schema this code's, are the views current.

`/healthz` asks the first only (the process is alive and can reach its database); `/readyz` asks all
three, so a proxy sends requests only to a server that can answer them with current views.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from mosaic.domain.errors import ErrorKind, Failure
from mosaic.queries.db import Database, DatabaseUnavailable
from mosaic.queries.projections import TRACKING_NAME

__all__ = ["DatabaseUnavailable", "Health", "Readiness", "SchemaOutOfDate", "ViewsLag", "ViewsLagging"]

log = logging.getLogger(__name__)

VIEWS_LAG_EVENTS_MAX: Final = 1_000  # a runner folds up to 2,000 events a run: this is seconds behind


class SchemaOutOfDate(Failure):
    """The database's schema is not the one this code was built for (migrate, then roll the servers)."""

    kind = ErrorKind.UNAVAILABLE
    code = "schema_out_of_date"


class ViewsLagging(Failure):
    kind = ErrorKind.UNAVAILABLE
    code = "views_lagging"


@dataclass(frozen=True, slots=True)
class ViewsLag:
    """How far the shared views are behind the event log: events not folded yet, and the age of
    the oldest of them (0 when caught up)."""

    events: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Readiness:
    schema_revision: str
    views_lag_events: int


class Health:
    def __init__(
        self, db: Database, *, schema_revision: str, log_head: Callable[[], int | None],
        views_position: Callable[[], int], event_time: Callable[[int], datetime | None] = lambda _: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`schema_revision`: the migration this code needs; `log_head` the event store's last position;
        `views_position` how far this process's views have folded; `event_time` when the event at a
        log position happened (None if there is none)."""
        self.db = db
        self.schema_revision = schema_revision
        self._log_head = log_head
        self._views_position = views_position
        self._event_time = event_time
        self._clock = clock

    def views_lag(self) -> ViewsLag:
        """The lag of the views every process shares (their tracking row), not of this process's
        runner: the same answer from every worker, for `/metrics`."""
        try:
            with self.db.read() as tx:
                row = tx.one("SELECT position FROM projection_tracking WHERE name = ?", (TRACKING_NAME,))
            folded = int(row[0]) if row else 0
            behind = max(0, (self._log_head() or 0) - folded)
            if behind == 0:
                return ViewsLag(0, 0.0)
            oldest = self._event_time(folded + 1)  # ids have gaps: the next one stored may be later
        except Exception as exc:  # the event store's own errors as much as ours
            log.warning("views lag: the database does not answer: %s", exc)
            raise DatabaseUnavailable("the database does not answer") from None
        age_s = 0.0 if oldest is None else max(0.0, (self._clock() - oldest).total_seconds())
        return ViewsLag(behind, age_s)

    def check_database(self) -> None:
        """Return if the database answers a query; raise `DatabaseUnavailable` otherwise."""
        try:
            with self.db.read() as tx:
                assert tx.one("SELECT 1") is not None
        except Exception as exc:
            log.warning("health check: the database does not answer: %s", exc)
            raise DatabaseUnavailable("the database does not answer") from None

    def readiness(self) -> Readiness:
        """The database answers, its schema is current and the views lag at most VIEWS_LAG_EVENTS_MAX
        events; otherwise the failure that says which does not hold."""
        try:
            with self.db.read() as tx:
                row = tx.one("SELECT version_num FROM alembic_version")
            head = self._log_head() or 0
        except Exception as exc:
            log.warning("readiness: the database does not answer: %s", exc)
            raise DatabaseUnavailable("the database does not answer") from None
        revision = "" if row is None else str(row[0])
        if revision != self.schema_revision:
            raise SchemaOutOfDate(
                f"the database schema is at {revision or 'nothing'} and this server needs "
                f"{self.schema_revision}: run `mosaic db upgrade`"
            )
        lag = max(0, head - self._views_position())
        if lag > VIEWS_LAG_EVENTS_MAX:
            raise ViewsLagging(f"the views are {lag} events behind the log (at most {VIEWS_LAG_EVENTS_MAX})")
        return Readiness(revision, lag)
