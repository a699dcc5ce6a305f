"""A small SQL adapter for the views: one API over sqlite3 and psycopg, `?` placeholders in both.

Projections write through `write()` (one transaction; on SQLite `BEGIN IMMEDIATE`, so two writers
queue instead of failing), queries read through `read()`, and a reader that must see the log and the
views as of one moment (the auditor's verify) reads through `snapshot()`.

A PostgreSQL server that does not answer turns into `DatabaseUnavailable` (503 with `Retry-After`),
never an exception a route would answer with 500. After a lost connection the database is taken for
down during `DOWN_FOR_S`: requests in that time are refused at once instead of each waiting out the
pool's timeout, and the first one after it probes with a short timeout, so a restart costs fast
refusals while it lasts and nothing once the server is back.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from mosaic.config import DATABASE_CONNECT_TIMEOUT_S, DatabaseUrl
from mosaic.domain.errors import ErrorKind, Failure

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30.0
POOL_CONNECTIONS_MAX = 16
POOL_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 1.0  # the pool's wait for a connection while the database was last seen down
DOWN_FOR_S = 1.0
STREAM_BATCH_ROWS = 5_000

Row = tuple[Any, ...]
Params = Sequence[Any]


class DatabaseUnavailable(Failure):
    """The database does not answer (restarting, unreachable, out of connections): retry shortly."""

    kind = ErrorKind.UNAVAILABLE
    code = "database_unavailable"


class Tx(Protocol):
    dialect: str

    def execute(self, sql: str, params: Params = ()) -> None: ...
    def executemany(self, sql: str, rows: Sequence[Params]) -> None: ...
    def one(self, sql: str, params: Params = ()) -> Row | None: ...
    def all(self, sql: str, params: Params = ()) -> list[Row]: ...
    def stream(
        self, sql: str, params: Params = (), *, batch_rows: int = STREAM_BATCH_ROWS
    ) -> Iterator[Row]: ...


class _SqliteTx:
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> None:
        self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        self._conn.executemany(sql, rows)

    def one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._conn.execute(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._conn.execute(sql, params).fetchall()

    def stream(self, sql: str, params: Params = (), *, batch_rows: int = STREAM_BATCH_ROWS) -> Iterator[Row]:
        cursor = self._conn.execute(sql, params)
        while rows := cursor.fetchmany(batch_rows):
            yield from rows


_pg_sql_cache: dict[str, str] = {}


def _pg(sql: str) -> str:
    translated = _pg_sql_cache.get(sql)
    if translated is None:
        assert "%" not in sql, "no literal % in view SQL"
        translated = _pg_sql_cache[sql] = sql.replace("?", "%s")
    return translated


# `executemany` of these shapes runs as one statement over arrays on PostgreSQL (see `_array_plan`).
_INSERT_VALUES = re.compile(r"INSERT INTO (\w+) \(([\w\s,]+)\) VALUES \(([^()]+)\)")
_DELETE_WHERE = re.compile(r"DELETE FROM (\w+) WHERE (\w+) = \?")
_array_plans: dict[str, tuple[str, int] | None] = {}


def _array_plan(conn: psycopg.Connection[Any], sql: str) -> tuple[str, int] | None:
    """(statement, number of arrays) running `sql`, an `INSERT … VALUES (?, …)` or a `DELETE …
    WHERE c = ?` for many rows, as one statement whose parameters are one array per `?`
    (`INSERT … SELECT … FROM unnest(…)`, `DELETE … = ANY(…)`); None if `sql` has neither shape.

    psycopg's `executemany` sends one prepared execution per row through its pipeline, and its
    Python-side work per row (dumping, preparing, pipeline bookkeeping) was a sixth of the CPU of a
    process running the ledger and its views; arrays are dumped in C. Each array is cast to its
    column's type, read once per process from the catalog.
    """
    if sql in _array_plans:
        return _array_plans[sql]
    plan = None
    if (insert := _INSERT_VALUES.fullmatch(sql)) is not None:
        table, columns_text, values_text = insert.groups()
        columns = [c.strip() for c in columns_text.split(",")]
        values = [v.strip() for v in values_text.split(",")]
        types = _column_types(conn, table)
        arrays = [c for c, v in zip(columns, values, strict=True) if v == "?"]
        picks = ", ".join(f"u.{c}" if v == "?" else v for c, v in zip(columns, values, strict=True))
        unnest = ", ".join(f"%s::{types[c]}[]" for c in arrays)
        statement = (
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"SELECT {picks} FROM unnest({unnest}) AS u({', '.join(arrays)})"
        )
        plan = (statement, len(arrays))
    elif (delete := _DELETE_WHERE.fullmatch(sql)) is not None:
        table, column = delete.groups()
        sql_type = _column_types(conn, table)[column]
        plan = (f"DELETE FROM {table} WHERE {column} = ANY(%s::{sql_type}[])", 1)
    _array_plans[sql] = plan
    return plan


def _column_types(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
        (table,),
    ).fetchall()
    return {str(name): str(sql_type) for name, sql_type in rows}


class _PgTx:
    dialect = "postgresql"

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn
        self._cursors = 0

    def execute(self, sql: str, params: Params = ()) -> None:
        self._conn.execute(_pg(sql), params, prepare=True)

    def executemany(self, sql: str, rows: Sequence[Params]) -> None:
        if not rows:
            return
        if len(rows) == 1:
            self.execute(sql, rows[0])
            return
        plan = _array_plan(self._conn, sql)
        if plan is None:
            with self._conn.cursor() as cur:
                cur.executemany(_pg(sql), rows)
            return
        statement, arrays = plan
        assert all(len(row) == arrays for row in rows), (sql, arrays)
        self._conn.execute(statement, [[row[i] for row in rows] for i in range(arrays)], prepare=True)

    def one(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = self._conn.execute(_pg(sql), params, prepare=True).fetchone()
        return row

    def all(self, sql: str, params: Params = ()) -> list[Row]:
        return self._conn.execute(_pg(sql), params, prepare=True).fetchall()

    def stream(self, sql: str, params: Params = (), *, batch_rows: int = STREAM_BATCH_ROWS) -> Iterator[Row]:
        """A server-side cursor: needs the transaction this Tx is in (not autocommit)."""
        self._cursors += 1  # several streams may be open at once in one transaction
        with self._conn.cursor(name=f"mosaic_stream_{self._cursors}") as cur:
            cur.itersize = batch_rows
            cur.execute(_pg(sql), params)
            yield from cur


class _Lost(Exception):
    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


def _is_connection_failure(exc: psycopg.OperationalError) -> bool:
    """A failure to connect (raised by `connect`, which has no SQLSTATE), not a query's refusal
    (a lock or statement timeout, which carry one and leave the database up)."""
    return exc.sqlstate is None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


class Database:
    def __init__(
        self, url: DatabaseUrl, *, application_name: str = "mosaic", pool_max: int = POOL_CONNECTIONS_MAX,
        check_connections: bool = False,
    ) -> None:
        """`application_name` names its connections in `pg_stat_activity` (an operator's view);
        `check_connections` tries each pooled connection before handing it out (a round trip, worth it
        for a few long transactions a second, not for every request)."""
        self.url = url
        self.application_name = application_name
        self.dialect = url.dialect
        self._local = threading.local()
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._down_until = 0.0  # monotonic time until which the database is taken for down
        self._healthy = True  # no lost connection since the last query that worked
        self._checking = threading.Lock()
        if url.dialect == "postgresql":
            self._pool = ConnectionPool(
                url.psycopg_conninfo,
                kwargs={"connect_timeout": DATABASE_CONNECT_TIMEOUT_S, "application_name": application_name},
                check=ConnectionPool.check_connection if check_connections else None,
                min_size=1,
                max_size=pool_max,
                timeout=POOL_TIMEOUT_S,
                open=True,
            )

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; a database that does not answer raises `DatabaseUnavailable`."""
        assert self._pool is not None
        if time.monotonic() < self._down_until:
            raise DatabaseUnavailable("the database does not answer; retry shortly")
        try:
            with self._pool.connection(timeout=POOL_TIMEOUT_S if self._healthy else PROBE_TIMEOUT_S) as pg:
                try:
                    yield pg
                except psycopg.OperationalError as exc:
                    if pg.broken or pg.closed:  # the server went away under the query
                        raise _Lost(exc) from exc
                    raise
            self._healthy = True
        except (PoolTimeout, psycopg.OperationalError, _Lost) as exc:
            cause = exc.cause if isinstance(exc, _Lost) else exc
            if not isinstance(exc, psycopg.OperationalError) or _is_connection_failure(exc):
                self._healthy = False
                self._down_until = time.monotonic() + DOWN_FOR_S
                if isinstance(exc, _Lost):
                    self._check_idle_connections()
            log.warning("the database does not answer: %s", _first_line(cause))  # for the operator only
            raise DatabaseUnavailable("the database does not answer; retry shortly") from exc

    def _check_idle_connections(self) -> None:
        """After a restart every idle connection in the pool is dead too: find them now, in the
        background, rather than lose one request to each."""
        if self._checking.acquire(blocking=False):
            def check() -> None:
                try:
                    assert self._pool is not None
                    self._pool.check()
                except Exception as exc:
                    log.warning("checking pooled connections failed: %s", _first_line(exc))
                finally:
                    self._checking.release()

            threading.Thread(target=check, name="pool-check", daemon=True).start()

    def _sqlite(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.url.path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Tx]:
        """A write transaction. `durable=False` (derived data only: views, usage) lets PostgreSQL
        acknowledge the commit before its WAL is flushed: still atomic and in order, but a crash may
        lose the last few milliseconds of it, which the projector then redoes from its tracking row."""
        if self._pool is None:
            conn = self._sqlite()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return
        with self._connection() as pg, pg.transaction():
            if not durable:
                pg.execute("SET LOCAL synchronous_commit TO OFF")
            yield _PgTx(pg)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        if self._pool is None:
            yield _SqliteTx(self._sqlite())
            return
        with self._connection() as pg:
            yield _PgTx(pg)
            pg.rollback()

    @contextmanager
    def snapshot(self) -> Iterator[Tx]:
        """A read-only transaction in which every read sees the database as of its first read.

        Commits made meanwhile by other connections stay invisible to it, so the event log, the
        audit chain and the views read in it agree with one another (REPEATABLE READ on
        PostgreSQL; on SQLite a deferred read transaction, which is a snapshot in WAL mode).
        """
        if self._pool is None:
            conn = self._sqlite()
            conn.execute("BEGIN")
            try:
                yield _SqliteTx(conn)
            finally:
                conn.execute("ROLLBACK")
            return
        with self._connection() as pg, pg.transaction():
            pg.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield _PgTx(pg)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """Whether this process holds the lock `name` for the block, among every process on this
        database (a PostgreSQL advisory lock, tried, never waited for; SQLite serves one process)."""
        if self._pool is None:
            yield True
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with self._connection() as pg:
            row = pg.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            held = bool(row and row[0])
            pg.commit()  # the lock belongs to the session, not to this transaction
            try:
                yield held
            finally:
                if held:
                    pg.execute("SELECT pg_advisory_unlock(%s)", (key,))
                    pg.commit()

    def stream(self, sql: str, params: Params = (), *, batch_rows: int = STREAM_BATCH_ROWS) -> Iterator[Row]:
        """Rows of a large read, fetched `batch_rows` at a time (a server-side cursor on PostgreSQL)."""
        if self._pool is None:
            cursor = self._sqlite().execute(sql, params)
            while rows := cursor.fetchmany(batch_rows):
                yield from rows
            return
        with self._connection() as pg, pg.transaction(), pg.cursor(name="mosaic_stream") as cur:
            cur.itersize = batch_rows
            cur.execute(_pg(sql), params)
            yield from cur

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
