"""Keeps the views up to date with the event log, and lets callers wait for a position.

One transaction per run: lock the tracking row, read the notifications after it, fold them into the
views, move the tracking row — so views and position never disagree, and two servers sharing a
PostgreSQL database take turns instead of applying an event twice. The runner wakes when this
process's writer commits (read-your-writes without polling), on PostgreSQL when another process's
insert NOTIFYs the event table's channel, and at least every `POLL_S` otherwise.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import ApplicationRecorder, Mapper

from mosaic.config import DATABASE_CONNECT_TIMEOUT_S
from mosaic.domain.errors import ErrorKind, Failure
from mosaic.queries.chain import GENESIS, decode_body, next_hash
from mosaic.queries.db import Database, DatabaseUnavailable, Tx
from mosaic.queries.projections import TRACKING_NAME, VIEW_TABLES, Batch, project

log = logging.getLogger(__name__)

NOTIFICATIONS_PER_RUN_MAX = 2_000
POLL_S = 1.0
WAIT_TIMEOUT_S = 10.0


class ViewsBehind(Failure):
    """The views did not fold a committed change in time (it was committed all the same)."""

    kind = ErrorKind.UNAVAILABLE
    code = "ledger_timeout"


class EventLog(Protocol):
    """What the runner reads: the event store's notification log and the mapper that decodes it."""

    @property
    def recorder(self) -> ApplicationRecorder: ...

    @property
    def mapper(self) -> Mapper[Any]: ...


class ProjectionRunner:
    def __init__(self, store: EventLog, db: Database) -> None:
        self.store = store
        self.db = db
        self.position = 0
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._run_lock = threading.Lock()

    # -- folding -----------------------------------------------------------------------------

    def run_once(self) -> int:
        """Apply up to NOTIFICATIONS_PER_RUN_MAX new events; returns how many were applied."""
        with self._run_lock, self.db.write(durable=False) as tx:
            position = _tracked_position(tx, lock=True)
            notifications = self.store.recorder.select_notifications(
                start=position + 1, limit=NOTIFICATIONS_PER_RUN_MAX
            )
            if notifications:
                batch = Batch(tx)
                for notification in notifications:
                    project(batch, self.store.mapper.to_domain_event(notification), notification.id)
                batch.flush()
                _extend_chain(tx, notifications)
                position = notifications[-1].id
                tx.execute(
                    "UPDATE projection_tracking SET position = ? WHERE name = ?",
                    (position, TRACKING_NAME),
                )
        self._advance(position)
        return len(notifications)

    def catch_up(self) -> int:
        """Apply every event recorded so far; returns the position reached."""
        while self.run_once() == NOTIFICATIONS_PER_RUN_MAX:
            pass
        return self.position

    def rebuild(self) -> int:
        """Empty every view and fold the whole log again, in one transaction.

        The audit chain is not a view: it is append-only and never recomputed here, so a rebuild
        cannot launder a rewritten log (`mosaic audit verify` compares the two).
        """
        with self._run_lock, self.db.write() as tx:
            _tracked_position(tx, lock=True)
            for table in VIEW_TABLES:
                tx.execute(f"DELETE FROM {table}")
            position = 0
            while True:
                notifications = self.store.recorder.select_notifications(
                    start=position + 1, limit=NOTIFICATIONS_PER_RUN_MAX
                )
                if not notifications:
                    break
                batch = Batch(tx)
                for notification in notifications:
                    project(batch, self.store.mapper.to_domain_event(notification), notification.id)
                batch.flush()
                position = notifications[-1].id
            tx.execute(
                "UPDATE projection_tracking SET position = ? WHERE name = ?", (position, TRACKING_NAME)
            )
        with self._changed:
            self.position = position
            self._changed.notify_all()
        return position

    def _advance(self, position: int) -> None:
        with self._changed:
            if position > self.position:
                self.position = position
                self._changed.notify_all()

    # -- waiting -----------------------------------------------------------------------------

    def notify(self, position: int) -> None:
        """Called by the writer after a commit: wake the runner."""
        self._wake.set()

    def settle(self, position: int | None) -> None:
        """Wait until the views have folded `position` (read-your-writes), or raise `ViewsBehind`."""
        if not self.wait_for(position):
            raise ViewsBehind("the ledger did not answer in time; retry shortly")

    def wait_for(self, position: int | None, timeout_s: float = WAIT_TIMEOUT_S) -> bool:
        """Block until the views include `position` (True), or `timeout_s` passes (False)."""
        if position is None or self.position >= position:
            return True
        if not self._threads:  # no background runner (CLI, tests): fold in this thread
            self.catch_up()
            return self.position >= position
        self._wake.set()
        with self._changed:
            return self._changed.wait_for(lambda: self.position >= position, timeout=timeout_s)

    # -- background --------------------------------------------------------------------------

    def start(self) -> None:
        self.catch_up()
        self._threads.append(threading.Thread(target=self._loop, name="projections", daemon=True))
        if self.db.dialect == "postgresql":
            self._threads.append(threading.Thread(target=self._listen, name="listen", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(timeout=POLL_S)
            self._wake.clear()
            try:
                self.catch_up()
            except DatabaseUnavailable as exc:
                log.warning("projection run: %s", exc.message)
                self._stopping.wait(0.5)
            except Exception:
                log.exception("projection run failed; retrying")
                self._stopping.wait(0.5)

    def _listen(self) -> None:
        channel = self.store.recorder.channel_name  # type: ignore[attr-defined]
        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    self.db.url.psycopg_conninfo, autocommit=True, application_name=self.db.application_name,
                    connect_timeout=DATABASE_CONNECT_TIMEOUT_S,
                ) as conn:
                    conn.execute(f'LISTEN "{channel}"')
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self._wake.set()
            except psycopg.Error:
                log.warning("LISTEN connection lost; reconnecting")
                self._stopping.wait(1.0)


def _extend_chain(tx: Tx, notifications: Any) -> None:
    """Append the chain hashes of `notifications` (which follow the chain's head in log order)."""
    row = tx.one("SELECT position, hash FROM audit_chain ORDER BY position DESC LIMIT 1")
    previous = bytes.fromhex(row[1]) if row else GENESIS
    assert row is None or int(row[0]) < notifications[0].id, "the chain only grows"
    rows = []
    for n in notifications:
        event = (n.id, str(n.originator_id), n.originator_version, n.topic, decode_body(n.state))
        previous = next_hash(previous, event)
        rows.append((n.id, previous.hex()))
    tx.executemany("INSERT INTO audit_chain (position, hash) VALUES (?, ?)", rows)


def _tracked_position(tx: Tx, *, lock: bool) -> int:
    lock_clause = " FOR UPDATE" if lock and tx.dialect == "postgresql" else ""
    row: Any = tx.one(
        f"SELECT position FROM projection_tracking WHERE name = ?{lock_clause}", (TRACKING_NAME,)
    )
    if row is None:
        tx.execute(
            "INSERT INTO projection_tracking (name, position) VALUES (?, 0)", (TRACKING_NAME,)
        )
        return 0
    return int(row[0])
