"""The event store: the eventsourcing library's recorders on SQLite or PostgreSQL, with a fast codec.

Event bodies hold only JSON primitives (ids are canonical UUID strings), so msgspec encodes and
decodes them directly; only the library's `timestamp` needs turning back into a datetime. Decoding
is most of replay time, and this codec is several times faster than the library's default.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import Application
from eventsourcing.persistence import Transcoder

from mosaic.config import DatabaseUrl

POSTGRES_LOCK_TIMEOUT_S = 5
SQLITE_LOCK_TIMEOUT_S = 10
POSTGRES_POOL_SIZE = 4


def events_table(dialect: str) -> str:
    """Where the library keeps the events: it names the table after the application on PostgreSQL."""
    return "mosaic_events" if dialect == "postgresql" else "stored_events"


class MsgspecTranscoder(Transcoder):
    """JSON via msgspec; datetimes are written as RFC 3339 and only `timestamp` is read back as one."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(dict[str, Any])

    def encode(self, obj: Any) -> bytes:
        return self._encoder.encode(obj)

    def decode(self, data: bytes) -> Any:
        state = self._decoder.decode(data)
        timestamp = state.get("timestamp")
        if timestamp is not None:
            state["timestamp"] = datetime.fromisoformat(timestamp)
        return state


class LedgerStore(Application[UUID]):
    """The library application used purely as an event store (repository, recorder, mapper)."""

    name = "mosaic"

    def construct_transcoder(self) -> Transcoder:
        return MsgspecTranscoder()


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
        "POSTGRES_POOL_SIZE": str(POSTGRES_POOL_SIZE),
        "POSTGRES_MAX_OVERFLOW": "4",
        "CREATE_TABLE": "n",
    }


def open_store(database: DatabaseUrl) -> LedgerStore:
    return LedgerStore(env=library_env(database))
