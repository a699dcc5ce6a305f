"""The views' SQL adapter: many rows written at once read back the same on both back-ends, and a
database that goes away is a 503 failure, not an exception."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import psycopg
import pytest

from mosaic.config import DatabaseUrl
from mosaic.queries.db import DOWN_FOR_S, Database, DatabaseUnavailable, _array_plan
from tests.conftest import PG_ADMIN, both_backends

AWKWARD_TEXTS = ["plain", "", "quote ' and \" double", "{braces}, commas", "back\\slash", "ünïcödé ✓", "NULL", None]


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(DatabaseUrl.parse(database_url))
    with db.write() as tx:
        tx.execute("DROP TABLE IF EXISTS adapter_rows")
        tx.execute(
            "CREATE TABLE adapter_rows (id BIGINT PRIMARY KEY, label TEXT, flag BOOLEAN, "
            "amount INTEGER NOT NULL, fixed INTEGER NOT NULL)"
        )
    yield db
    db.close()  # a pool left to the garbage collector stops its workers in __del__, in some later test


@both_backends()
def test_many_rows_inserted_and_deleted_at_once_read_back_exactly(database: Database) -> None:
    rows = [(i + 1, text, i % 2 == 0, (-1) ** i * 2**30) for i, text in enumerate(AWKWARD_TEXTS)]
    with database.write() as tx:
        tx.executemany("INSERT INTO adapter_rows (id, label, flag, amount, fixed) VALUES (?, ?, ?, ?, 7)", rows)
    with database.read() as tx:
        stored = tx.all("SELECT id, label, flag, amount, fixed FROM adapter_rows ORDER BY id")
    assert [(r[0], r[1], bool(r[2]), r[3], r[4]) for r in stored] == [(*row, 7) for row in rows]
    with database.write() as tx:
        tx.executemany("DELETE FROM adapter_rows WHERE id = ?", [(1,), (3,), (4,), (99,)])
        tx.executemany("DELETE FROM adapter_rows WHERE id = ?", [(5,)])
    with database.read() as tx:
        assert [r[0] for r in tx.all("SELECT id FROM adapter_rows ORDER BY id")] == [2, 6, 7, 8]


@both_backends()
def test_a_duplicate_in_many_rows_fails_the_whole_write(database: Database) -> None:
    duplicate = [(1, "a", True, 1, 1), (1, "b", False, 2, 2)]
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)), database.write() as tx:
        tx.executemany("INSERT INTO adapter_rows (id, label, flag, amount, fixed) VALUES (?, ?, ?, ?, ?)", duplicate)
    with database.read() as tx:
        assert tx.all("SELECT id FROM adapter_rows") == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_many_rows_go_as_one_statement_over_arrays(database_url: str) -> None:
    db = Database(DatabaseUrl.parse(database_url))
    try:
        with db.read() as tx:
            conn = tx._conn  # type: ignore[attr-defined]
            insert = _array_plan(conn, "INSERT INTO charges (charge_id, account_id, cost_credits) VALUES (?, ?, ?)")
            delete = _array_plan(conn, "DELETE FROM open_reservations WHERE request_id = ?")
            other = _array_plan(
                conn, "UPDATE charges SET refunded_credits = refunded_credits + ? WHERE charge_id = ?"
            )
    finally:
        db.close()
    assert insert is not None and "unnest(%s::text[], %s::text[], %s::integer[])" in insert[0] and insert[1] == 3
    assert delete == ("DELETE FROM open_reservations WHERE request_id = ANY(%s::text[])", 1)
    assert other is None  # executemany as before


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_lost_connection_is_a_503_failure_then_fast_refusals_then_recovery(database_url: str) -> None:
    db = Database(DatabaseUrl.parse(database_url))
    try:
        with db.read() as tx:
            tx.one("SELECT 1")
        dbname = DatabaseUrl.parse(database_url).dbname
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:  # what a restart does to each session
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            )
        with pytest.raises(DatabaseUnavailable), db.read() as tx:
            tx.one("SELECT 1")
        with pytest.raises(DatabaseUnavailable, match="retry shortly"), db.read():
            pass  # refused without a connection while the database is taken for down
        time.sleep(DOWN_FOR_S + 0.1)
        with db.read() as tx:
            assert tx.one("SELECT 1") == (1,)
    finally:
        db.close()
