"""Alembic 0006 on a database that already has users: their rows get what their events give."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from mosaic.commands.schema import _config
from mosaic.config import DatabaseUrl
from tests.conftest import BACKENDS, PG_URL_BASE, _admin


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseUrl]:
    if request.param == "sqlite":
        yield DatabaseUrl.parse(f"sqlite:///{tmp_path / 'old.db'}")
        return
    name = f"mosaic_m_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    yield DatabaseUrl.parse(f"{PG_URL_BASE}/{name}")
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_users_registered_before_0006_are_unverified_at_version_0_and_0006_reverts(
    empty_database: DatabaseUrl,
) -> None:
    config = _config(empty_database)
    command.upgrade(config, "0005")
    engine = sa.create_engine(empty_database.sqlalchemy_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO users (user_id, email, role, account_id, password_hash, registered_at) "
                "VALUES ('u1', 'old@example.com', 'user', 'a1', '$argon2id$x', '2026-01-01')"
            ))
        command.upgrade(config, "0006")
        with engine.connect() as conn:
            row = conn.execute(sa.text("SELECT email_verified, token_version FROM users")).one()
            assert (bool(row[0]), row[1]) == (False, 0)
            assert conn.execute(sa.text("SELECT count(*) FROM mail_tokens")).scalar() == 0
        command.downgrade(config, "0005")
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("users")}
            assert "email_verified" not in columns and "mail_tokens" not in sa.inspect(conn).get_table_names()
            assert conn.execute(sa.text("SELECT email FROM users")).scalar() == "old@example.com"
    finally:
        engine.dispose()
