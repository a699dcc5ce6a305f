"""The event store: the eventsourcing library's recorders on SQLite or PostgreSQL, with a fast codec.

Event bodies hold only JSON primitives (ids are canonical UUID strings), so msgspec encodes and
decodes them directly; only the library's `timestamp` needs turning back into a datetime. Decoding
is most of replay time, and this codec is several times faster than the library's default.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypedDict, cast
from uuid import UUID

import msgspec
import psycopg
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, CanMutateAggregate, OriginatorVersionError
from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent, Transcoder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import resolve_topic, retry
from psycopg.rows import tuple_row

from mosaic.config import DATABASE_CONNECT_TIMEOUT_S, DatabaseUrl

log = logging.getLogger(__name__)

POSTGRES_LOCK_TIMEOUT_S = 5
SQLITE_LOCK_TIMEOUT_S = 10
POSTGRES_POOL_SIZE = 4


def events_table(dialect: str) -> str:
    """Where the library keeps the events: it names the table after the application on PostgreSQL."""
    return "mosaic_events" if dialect == "postgresql" else "stored_events"


class MsgspecTranscoder(Transcoder):
    """JSON via msgspec; datetimes are written as RFC 3339 and only `timestamp` is read back as one.

    Bodies are written with their keys sorted, which makes them canonical JSON as the audit chain
    defines it (queries/chain.py), so the auditor's replay can hash them as stored.
    """

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder(order="sorted")
        self._decoder = msgspec.json.Decoder(dict[str, Any])

    def encode(self, obj: Any) -> bytes:
        return self._encoder.encode(obj)

    def decode(self, data: bytes) -> Any:
        state = self._decoder.decode(data)
        timestamp = state.get("timestamp")
        if timestamp is not None:
            state["timestamp"] = datetime.fromisoformat(timestamp)
        return state


class ArrayInsertRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, appending a group of events in one statement.

    Same table, same table lock and NOTIFY, same returned notification ids. The library sends lock,
    notify and insert in a pipelined transaction, one composite value per event dumped in Python,
    then commits: psycopg's pipeline machinery and the composite dumping were most of the writer's
    CPU per group. Here one prepared call of `mosaic_insert_events` (alembic 0004) takes four plain
    arrays, dumped natively, on the pool's autocommit connection, where the statement is its own
    transaction: one round trip, committed when it returns. A save with tracking (not used by the
    ledger) goes the library's way.
    """

    # few tries: a database that went away must fail the writer's group in seconds (503), not hold
    # every command of the process for ten
    @retry((InterfaceError, OperationalError), max_attempts=3, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if kwargs.get("tracking") is not None:
            return cast(Sequence[int] | None, super().insert_events(stored_events, **kwargs))
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            assert conn.autocommit
            curs.execute(
                "SELECT mosaic_insert_events(%s, %s, %s::uuid[], %s::bigint[], %s::text[], %s::bytea[])",
                (
                    self.channel_name,
                    POSTGRES_LOCK_TIMEOUT_S * 1000,
                    [e.originator_id for e in stored_events],
                    [e.originator_version for e in stored_events],
                    [e.topic for e in stored_events],
                    [e.state for e in stored_events],
                ),
                prepare=True,
            )
            ids: list[int] = [row[0] for row in curs.fetchall()]
            return ids


class LedgerStore(Application[UUID]):
    """The library application used purely as an event store (repository, recorder, mapper)."""

    name = "mosaic"

    def construct_transcoder(self) -> Transcoder:
        self._transcoder = MsgspecTranscoder()
        return self._transcoder

    def record(self, aggregates: Iterable[Aggregate]) -> int | None:
        """Store the pending events of `aggregates` in one transaction; the last notification id
        (None if there were none).

        `Application.save` for plain aggregates, less what the ledger does not use (snapshots,
        in-process followers' hooks) and less its two runtime-protocol `isinstance` checks per
        aggregate, which cost more than mapping the events.
        """
        stored = [self.mapper.to_stored_event(event) for a in aggregates for event in a.collect_events()]
        if not stored:
            return None
        ids = self.recorder.insert_events(stored)
        return max(ids) if ids else None

    def event_time(self, position: int) -> datetime | None:
        """When the first event stored at or after log `position` happened (None if none is)."""
        notifications = self.recorder.select_notifications(start=position, limit=1)
        if not notifications:
            return None
        timestamp = getattr(self.mapper.to_domain_event(notifications[0]), "timestamp", None)
        return timestamp if isinstance(timestamp, datetime) else None

    def replay(self, aggregate_id: UUID, *, into: Aggregate | None = None) -> Aggregate:
        """The aggregate rebuilt from its stream (or `into` brought up to date), fast.

        The library's repository does the same through a runtime-protocol `isinstance` per event
        and a UUID object per row, which together cost more than decoding; this reads the three
        columns it needs and hands each event straight to `mutate` (which still checks id and
        version order). Upcasting works as in the library's mapper.
        """
        after = into.version if into is not None else 0
        rows = self._stream(aggregate_id, after)
        # Replay allocates many small acyclic objects; in a process with a large heap the cyclic
        # collector's passes over them cost a large share of replay time, so they wait until we are done.
        collecting = gc.isenabled()
        gc.disable()
        try:
            aggregate = self._fold(aggregate_id, rows, into)
        finally:
            if collecting:
                gc.enable()
        if aggregate is None:
            raise AggregateNotFoundError(aggregate_id)
        assert isinstance(aggregate, Aggregate)
        return aggregate

    def _fold(self, aggregate_id: UUID, rows: list[tuple[int, str, bytes]], into: Aggregate | None) -> Any:
        """Each event's `apply`, in order, after the checks the library's `mutate` makes.

        `mutate` checks that the event is the aggregate's (true here: every row was read by this
        id) and next in version, applies it, then sets the aggregate's version and modified time,
        through properties, for every event; only the last event's values survive, so they are
        set once at the end. A created event still goes through its own `mutate`, which makes the
        aggregate; so does any event class that overrides `mutate`.
        """
        decode = self._transcoder.decode
        aggregate: Any = into
        version = into.version if into is not None else 0
        event: Any = None
        topics = _topics
        for row_version, topic, state in rows:
            cls, class_version, plain_mutate, decode_current = topics.get(topic) or _topic_class(topic)
            body = decode_current(state)
            from_version = body.pop("class_version", 1)
            if from_version < class_version:  # written by an earlier version: upcast what was stored
                body = decode(state)
                body.pop("class_version", None)
                while from_version < class_version:
                    getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(body)
                    from_version += 1
            body["originator_id"] = aggregate_id
            body["originator_version"] = row_version
            event = object.__new__(cls)
            object.__setattr__(event, "__dict__", body)
            if aggregate is not None and plain_mutate:
                if row_version != version + 1:
                    raise OriginatorVersionError(row_version, version + 1)
                event.apply(aggregate)
            else:
                if aggregate is not None and aggregate.version != version:
                    aggregate.version = version  # the events applied directly before this one
                aggregate = event.mutate(aggregate)
            version = row_version
        if event is not None and aggregate is not None and aggregate.version != version:
            aggregate.version = version
            aggregate.modified_on = event.timestamp
        return aggregate

    def _stream(self, aggregate_id: UUID, after_version: int) -> list[tuple[int, str, bytes]]:
        datastore: Any = self.recorder.datastore  # type: ignore[attr-defined]
        if self.factory.__class__.__module__ == "eventsourcing.sqlite":
            with datastore.transaction(commit=False) as cursor:
                cursor.execute(
                    "SELECT originator_version, topic, state FROM stored_events "
                    "WHERE originator_id = ? AND originator_version > ? ORDER BY originator_version",
                    (aggregate_id.hex, after_version),
                )
                return [tuple(row) for row in cursor.fetchall()]
        # Binary results (no hex text to decode for each `state`) as plain tuples (no dict per row).
        with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as cursor:
            cursor.execute(
                "SELECT originator_version, topic, state FROM mosaic_events "
                "WHERE originator_id = %s AND originator_version > %s ORDER BY originator_version",
                (aggregate_id, after_version),
            )
            rows: list[tuple[int, str, bytes]] = cursor.fetchall()
            return rows


_topics: dict[str, tuple[type[Any], int, bool, Callable[[bytes], dict[str, Any]]]] = {}


def _topic_class(topic: str) -> tuple[type[Any], int, bool, Callable[[bytes], dict[str, Any]]]:
    """The event class of `topic`, its class version, whether its `mutate` is the library's plain
    check-apply-stamp (so replay may call `apply` directly), and a decoder for the state it writes.

    That decoder reads exactly the class's fields, `timestamp` as a datetime (msgspec parses it in
    C, in one pass with the JSON), and `class_version`; replay uses it for events written by the
    current class version only (an older one is decoded whole, for its upcasts to read).
    """
    found = _topics.get(topic)
    if found is None:
        cls = resolve_topic(topic)
        plain = getattr(cls, "mutate", None) is CanMutateAggregate.mutate
        fields: dict[str, Any] = {"timestamp": datetime, "class_version": int}
        for field in dataclasses.fields(cls):
            if field.name not in ("originator_id", "originator_version", "timestamp"):
                fields[field.name] = Any
        state_type = cast(Any, TypedDict)(f"{cls.__qualname__}State", fields, total=False)
        decode = msgspec.json.Decoder(state_type).decode
        found = _topics[topic] = (cls, getattr(cls, "class_version", 1), plain, decode)
    return found


CONTENDED_CHANNEL = "mosaic_contended"
LOCKS_RECONNECT_S = 1.0


class _NotNow(Exception):
    """The lock connection failed less than LOCKS_RECONNECT_S ago: go on without it, quietly."""


class AggregateLocks:
    """PostgreSQL advisory locks, one per aggregate, held by one writer across a group's read and save,
    and a channel on which writers tell each other which aggregates they collided on.

    Session-level locks on a connection of their own (the store's pool connections are autocommit and
    shared). They only serialise writers that take them: correctness never depends on them, since the
    store's (aggregate, version) key still refuses a conflicting save. So any failure (the connection
    lost, `lock_timeout`, a deadlock between two writers locking in opposite orders) is logged and the
    group goes on unlocked; closing the session releases whatever it held.

    The channel is needed because only the loser of a collision learns of it: the winner's save
    succeeded, and its cache goes stale only once the loser commits, which it cannot do while the
    winner keeps committing unlocked. So the loser announces the aggregate and every writer reads the
    channel before each group (a poll of the socket, no round trip).
    """

    def __init__(self, database: DatabaseUrl) -> None:
        self._conninfo = database.psycopg_conninfo
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False
        self._connect_after = 0.0  # monotonic: after a failure, no new connection before then

    @staticmethod
    def key(aggregate_id: UUID) -> int:
        """The lock's bigint: the id's first 8 bytes (a collision only serialises two aggregates)."""
        return int.from_bytes(aggregate_id.bytes[:8], "big", signed=True)

    def announced(self) -> list[UUID]:
        """Aggregates other writers (or this one) collided on since the last call."""
        try:
            conn = self._connection()
            return [UUID(notify.payload) for notify in conn.notifies(timeout=0)]
        except _NotNow:
            return []
        except psycopg.Error as exc:
            log.warning("dropping the lock connection: %s", exc)
            self._drop()
            return []

    def announce(self, aggregate_ids: list[UUID]) -> None:
        try:
            self._connection().execute(
                "SELECT pg_notify(%s, id) FROM unnest(%s::text[]) AS id",
                (CONTENDED_CHANNEL, [str(i) for i in aggregate_ids]),
            )
        except _NotNow:
            pass
        except psycopg.Error as exc:
            log.warning("dropping the lock connection: %s", exc)
            self._drop()

    def acquire(self, aggregate_id: UUID) -> bool:
        """Wait for the aggregate's lock (at most POSTGRES_LOCK_TIMEOUT_S); False if not taken."""
        try:
            self._connection().execute(
                "SELECT pg_advisory_lock(%s)", (self.key(aggregate_id),), prepare=True
            )
        except _NotNow:
            return False
        except psycopg.Error as exc:
            log.warning("writing %s without its lock: %s", aggregate_id, exc)
            self._drop()
            return False
        self._held = True
        return True

    def release_all(self) -> None:
        if not self._held or self._conn is None:
            return
        self._held = False
        try:
            self._conn.execute("SELECT pg_advisory_unlock_all()", prepare=True)
        except psycopg.Error as exc:
            log.warning("dropping the lock connection: %s", exc)
            self._drop()

    def close(self) -> None:
        self._drop()

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            # The writer asks before every group: with the database gone, one try a second (each
            # within the connect timeout), not one per group.
            if time.monotonic() < self._connect_after:
                raise _NotNow
            self._connect_after = time.monotonic() + LOCKS_RECONNECT_S
            conn = psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=DATABASE_CONNECT_TIMEOUT_S
            )
            conn.execute(f"SET lock_timeout = '{POSTGRES_LOCK_TIMEOUT_S}s'")
            conn.execute(f"LISTEN {CONTENDED_CHANNEL}")
            self._conn = conn
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the session's locks go with it
            self._connect_after = time.monotonic() + LOCKS_RECONNECT_S
        self._conn = None
        self._held = False


def library_env(database: DatabaseUrl) -> dict[str, str]:
    if database.dialect == "sqlite":
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": database.path,
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_S),
            "CREATE_TABLE": "n",
        }
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": database.dbname,
        "POSTGRES_HOST": database.host,
        "POSTGRES_PORT": str(database.port),
        "POSTGRES_USER": database.user,
        "POSTGRES_PASSWORD": database.password,
        "POSTGRES_LOCK_TIMEOUT": str(POSTGRES_LOCK_TIMEOUT_S),
        # a database that went away fails the writer's group in seconds (503), not after the
        # library's 30-s default, during which every command of this process would queue behind it
        "POSTGRES_CONNECT_TIMEOUT": str(DATABASE_CONNECT_TIMEOUT_S),
        "POSTGRES_POOL_SIZE": str(POSTGRES_POOL_SIZE),
        "POSTGRES_MAX_OVERFLOW": "4",
        "CREATE_TABLE": "n",
        "APPLICATION_RECORDER_TOPIC": "mosaic.commands.store:ArrayInsertRecorder",
    }


def open_store(database: DatabaseUrl) -> LedgerStore:
    return LedgerStore(env=library_env(database))
