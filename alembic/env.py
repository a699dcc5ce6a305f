"""Alembic environment: the one source of truth for the schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from mosaic.config import DEFAULT_DATABASE_URL, DatabaseUrl

url = context.config.get_main_option("sqlalchemy.url") or DatabaseUrl.parse(
    os.environ.get("MOSAIC_DATABASE_URL", DEFAULT_DATABASE_URL)
).sqlalchemy_url

engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
