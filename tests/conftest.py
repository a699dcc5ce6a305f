"""Shared fixtures: the application on SQLite and on PostgreSQL, each test on a fresh database.

PostgreSQL and Redis must answer (scripts/test starts them); a test that needs one and cannot reach
it fails, it never skips.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from mosaic.bootstrap import Services, build
from mosaic.commands.schema import upgrade
from mosaic.config import DatabaseUrl, Settings

PG_ADMIN = os.environ.get("MOSAIC_TEST_PG", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
PG_URL_BASE = os.environ.get("MOSAIC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")
TEST_SECRET = "test-secret-" + "x" * 40
FIXTURES = Path(__file__).parent / "fixtures"
BACKENDS = ("sqlite", "postgresql")


def _admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated database that each PostgreSQL test copies (CREATE DATABASE … TEMPLATE)."""
    name = f"mosaic_tpl_{os.getpid()}_{secrets.token_hex(3)}"
    _admin(f'CREATE DATABASE "{name}"')
    upgrade(DatabaseUrl.parse(f"{PG_URL_BASE}/{name}"))
    yield name
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, migrated database for the backend the test is parametrised with."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'mosaic.db'}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"mosaic_t_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield f"{PG_URL_BASE}/{name}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(database_url: str, **env: str) -> Settings:
    """Settings on `database_url`, with one image worker (a test starts it only if it generates)."""
    return Settings.from_env(
        {"MOSAIC_DATABASE_URL": database_url, "MOSAIC_SECRET": TEST_SECRET, "MOSAIC_IMAGE_WORKERS": "1", **env}
    )


@pytest.fixture
def make_services(database_url: str) -> Iterator[Callable[..., Services]]:
    """Build (possibly several) application instances on the test's database; closed at the end."""
    made: list[Services] = []

    def make(background: bool = False, **env: str) -> Services:
        services = build(settings_for(database_url, **env), background=background)
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()


@pytest.fixture
def services(make_services: Callable[..., Services]) -> Services:
    return make_services()


def both_backends() -> pytest.MarkDecorator:
    """Parametrise a test over SQLite and PostgreSQL (the `database_url` fixture reads the param)."""
    return pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
