"""What auditors read over the API: pages of the log with chain hashes, and the signed head.

Both first wait until the views (the chain among them) have folded every event in the log, so a page
never lacks the hash of an event it lists, and a digest signs the head as it is now.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from mosaic.domain.errors import ErrorKind, Failure
from mosaic.queries import digest as digests
from mosaic.queries.audit_log import export_line, iter_log
from mosaic.queries.db import Database
from mosaic.queries.runner import ProjectionRunner
from mosaic.queries.views import Views

EVENTS_PAGE_MAX = 10_000
EVENTS_PAGE_DEFAULT = 1_000


class EmptyLog(Failure):
    kind = ErrorKind.NOT_FOUND
    code = "empty_log"


class AuditReads:
    def __init__(
        self, *, db: Database, views: Views, runner: ProjectionRunner, log_head: Callable[[], int | None],
        secret: bytes,
    ) -> None:
        """`log_head`: the log's last position now (the event store's); `secret` derives the signing key."""
        self._db = db
        self._views = views
        self._runner = runner
        self._log_head = log_head
        self._secret = secret

    def events(self, *, after: int, limit: int) -> bytes:
        """Up to `limit` events after position `after`, as JSON lines with their chain hashes."""
        assert 0 < limit <= EVENTS_PAGE_MAX
        self._runner.wait_for(self._log_head())
        events = list(itertools.islice(iter_log(self._db, after=after), limit))
        if not events:
            return b""
        with self._db.read() as tx:
            hashes: dict[int, str] = dict(
                tx.all(
                    "SELECT position, hash FROM audit_chain WHERE position >= ? AND position <= ?",
                    (events[0].position, events[-1].position),
                )
            )
        return b"".join(export_line(e, hashes.get(e.position, "")) + b"\n" for e in events)

    def digest(self) -> digests.Digest:
        """The chain's head, signed with the server's Ed25519 key."""
        self._runner.wait_for(self._log_head())
        head = self._views.chain_head()
        if head is None:
            raise EmptyLog("the log is empty: there is nothing to sign yet")
        return digests.sign(self._secret, position=head[0], hash_hex=head[1])
