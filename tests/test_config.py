from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from mosaic.config import ConfigError, DatabaseUrl, Settings


def test_a_password_with_reserved_characters_survives_both_connection_strings() -> None:
    url = DatabaseUrl.parse("postgresql://bob:p%40ss%20w%27rd@db.example:5433/mosaic")
    assert url.password == "p@ss w'rd"
    assert make_url(url.sqlalchemy_url).password == "p@ss w'rd"
    assert "password='p@ss w\\'rd'" in url.psycopg_conninfo


@pytest.mark.parametrize("bad", ["mysql://x/y", "sqlite:///", "postgresql://u@h/"])
def test_a_database_url_that_cannot_work_names_the_variable(bad: str) -> None:
    with pytest.raises(ConfigError, match="MOSAIC_DATABASE_URL"):
        DatabaseUrl.parse(bad)


def test_postgresql_needs_a_shared_secret_and_a_short_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="MOSAIC_SECRET is required"):
        Settings.from_env({"MOSAIC_DATABASE_URL": "postgresql://u@h/db"})
    with pytest.raises(ConfigError, match="at least 32"):
        Settings.from_env({"MOSAIC_DATABASE_URL": "postgresql://u@h/db", "MOSAIC_SECRET": "short"})
