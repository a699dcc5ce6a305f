"""Liveness and readiness: is the database there, is its schema this code's, are the views current.

`/healthz` asks the first only (the process is alive and can reach its database); `/readyz` asks all
three, so a proxy sends requests only to a server that can answer them with current views.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mosaic.domain.errors import ErrorKind, Failure
from mosaic.queries.db import Database

log = logging.getLogger(__name__)

VIEWS_LAG_EVENTS_MAX: Final = 1_000  # a runner folds up to 2,000 events a run: this is seconds behind


class DatabaseUnavailable(Failure):
    kind = ErrorKind.UNAVAILABLE
    code = "database_unavailable"


class SchemaOutOfDate(Failure):
    """The database's schema is not the one this code was built for (migrate, then roll the servers)."""

    kind = ErrorKind.UNAVAILABLE
    code = "schema_out_of_date"


class ViewsLagging(Failure):
    kind = ErrorKind.UNAVAILABLE
    code = "views_lagging"


@dataclass(frozen=True, slots=True)
class Readiness:
    schema_revision: str
    views_lag_events: int


class Health:
    def __init__(
        self, db: Database, *, schema_revision: str, log_head: Callable[[], int | None],
        views_position: Callable[[], int],
    ) -> None:
        """`schema_revision`: the migration this code needs; `log_head` the event store's last position;
        `views_position` how far this process's views have folded."""
        self.db = db
        self.schema_revision = schema_revision
        self._log_head = log_head
        self._views_position = views_position

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
