"""Schema management: alembic owns the schema of both back-ends; this module runs and checks it."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from mosaic.config import DatabaseUrl

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the `mosaic` package
# An installed wheel holds the scripts as `mosaic/_alembic` (see pyproject.toml); a source checkout or
# an editable install reads the top-level `alembic/` itself. (Next to an installed package, `alembic`
# is the alembic library: hence the test for env.py.)
ALEMBIC_DIR = next(
    (d for d in (_PACKAGE_DIR / "_alembic", _PACKAGE_DIR.parent / "alembic") if (d / "env.py").is_file()),
    _PACKAGE_DIR / "_alembic",
)


class SchemaOutOfDate(Exception):
    """The database is behind the code's schema; the message says which command fixes it."""


def _config(database: DatabaseUrl) -> Config:
    assert ALEMBIC_DIR.is_dir(), f"alembic scripts not found at {ALEMBIC_DIR}"
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", database.sqlalchemy_url.replace("%", "%%"))
    return config


def upgrade(database: DatabaseUrl) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    if database.dialect == "sqlite":
        Path(database.path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(_config(database), "head")


def head_revision() -> str:
    assert ALEMBIC_DIR.is_dir(), f"alembic scripts not found at {ALEMBIC_DIR}"
    head = ScriptDirectory(str(ALEMBIC_DIR)).get_current_head()
    assert head is not None
    return head


def current_revision(database: DatabaseUrl) -> str | None:
    engine = create_engine(database.sqlalchemy_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def ensure_schema(database: DatabaseUrl) -> None:
    """SQLite (embedded) is created and migrated on first start; PostgreSQL must be migrated by hand."""
    if database.dialect == "sqlite":
        upgrade(database)
        return
    current, head = current_revision(database), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database schema is at {current or 'nothing'} and this version needs {head}: "
            "run `mosaic db upgrade` first"
        )
