"""Is the database there: the health check's one query, bounded in time by its caller."""

from __future__ import annotations

import logging

from mosaic.domain.errors import ErrorKind, Failure
from mosaic.queries.db import Database

log = logging.getLogger(__name__)


class DatabaseUnavailable(Failure):
    kind = ErrorKind.UNAVAILABLE
    code = "database_unavailable"


class Health:
    def __init__(self, db: Database) -> None:
        self.db = db

    def check_database(self) -> None:
        """Return if the database answers a query; raise `DatabaseUnavailable` otherwise."""
        try:
            with self.db.read() as tx:
                assert tx.one("SELECT 1") is not None
        except Exception as exc:
            log.warning("health check: the database does not answer: %s", exc)
            raise DatabaseUnavailable("the database does not answer") from None
