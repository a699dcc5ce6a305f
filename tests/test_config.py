from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from mosaic.commands.plans import PlanCatalogue
from mosaic.config import ConfigError, DatabaseUrl, Settings


def test_a_password_with_reserved_characters_survives_both_connection_strings() -> None:
    url = DatabaseUrl.parse("postgresql://bob:p%40ss%20w%27rd@db.example:5433/mosaic")
    assert url.password == "p@ss w'rd"
    assert make_url(url.sqlalchemy_url).password == "p@ss w'rd"
    assert "password='p@ss w\\'rd'" in url.psycopg_conninfo


def test_a_host_query_parameter_names_the_unix_socket_directory_for_both_connection_strings() -> None:
    url = DatabaseUrl.parse("postgresql://bob@/mosaic?host=/var/run/postgresql")
    assert (url.host, url.port, url.user, url.dbname) == ("/var/run/postgresql", 5432, "bob", "mosaic")
    assert url.on_unix_socket
    assert "host=/var/run/postgresql" in url.psycopg_conninfo
    alchemy = make_url(url.sqlalchemy_url)
    assert alchemy.host is None, "a directory is not a network host"
    assert (alchemy.query["host"], alchemy.query["port"], alchemy.database) == ("/var/run/postgresql", "5432", "mosaic")
    tcp = DatabaseUrl.parse("postgresql://bob@db.example/mosaic")
    assert (tcp.host, tcp.on_unix_socket, make_url(tcp.sqlalchemy_url).host) == ("db.example", False, "db.example")


@pytest.mark.parametrize("bad", ["mysql://x/y", "sqlite:///", "postgresql://u@h/"])
def test_a_database_url_that_cannot_work_names_the_variable(bad: str) -> None:
    with pytest.raises(ConfigError, match="MOSAIC_DATABASE_URL"):
        DatabaseUrl.parse(bad)


def test_postgresql_needs_a_shared_secret_and_a_short_one_is_refused() -> None:
    with pytest.raises(ConfigError, match="MOSAIC_SECRET is required"):
        Settings.from_env({"MOSAIC_DATABASE_URL": "postgresql://u@h/db"})
    with pytest.raises(ConfigError, match="at least 32"):
        Settings.from_env({"MOSAIC_DATABASE_URL": "postgresql://u@h/db", "MOSAIC_SECRET": "short"})


def test_an_ai_timeout_the_reservation_would_outlive_is_refused_at_start() -> None:
    env = {"MOSAIC_DATABASE_URL": "postgresql://u@h/db", "MOSAIC_SECRET": "s" * 40, "MOSAIC_AI_BASE_URL": "http://ai"}
    with pytest.raises(ConfigError, match="MOSAIC_AI_TIMEOUT_S=60 is too long for MOSAIC_RESERVATION_TIMEOUT_S=60"):
        Settings.from_env({**env, "MOSAIC_RESERVATION_TIMEOUT_S": "60"})
    fits = Settings.from_env({**env, "MOSAIC_RESERVATION_TIMEOUT_S": "151"})  # 2 × 60 s < 0.8 × 151 s
    assert fits.ai_timeout_s == 60
    without_ai = {k: v for k, v in env.items() if k != "MOSAIC_AI_BASE_URL"}
    assert Settings.from_env({**without_ai, "MOSAIC_RESERVATION_TIMEOUT_S": "2"}).reservation_timeout_s == 2


PG = {"MOSAIC_DATABASE_URL": "postgresql://u@h/db", "MOSAIC_SECRET": "s" * 40}


def test_the_old_workers_variable_is_refused_naming_the_two_that_replace_it() -> None:
    with pytest.raises(ConfigError, match=r"MOSAIC_SERVER_WORKERS .* MOSAIC_IMAGE_WORKERS"):
        Settings.from_env({**PG, "MOSAIC_WORKERS": "4"})


def test_serving_processes_share_the_cores_for_their_image_pools_unless_told() -> None:
    two = Settings.from_env({**PG, "MOSAIC_SERVER_WORKERS": "2"})
    assert two.image_pool_size(cores=8) == 4
    assert two.with_server_workers(16).image_pool_size(cores=8) == 1  # never none
    assert Settings.from_env({**PG, "MOSAIC_IMAGE_WORKERS": "3"}).image_pool_size(cores=8) == 3


def test_trusted_proxies_are_addresses_or_networks_and_nothing_else() -> None:
    settings = Settings.from_env({**PG, "MOSAIC_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16,::1"})
    assert settings.trusted_proxies == ("10.0.0.5", "10.1.0.0/16", "::1")
    assert Settings.from_env(PG).trusted_proxies == ()
    with pytest.raises(ConfigError, match="MOSAIC_TRUSTED_PROXIES: 'nginx' is not an IP address"):
        Settings.from_env({**PG, "MOSAIC_TRUSTED_PROXIES": "nginx"})


@pytest.mark.parametrize(("name", "value"), [("MOSAIC_LOG_FORMAT", "xml"), ("MOSAIC_ACCESS_LOG", "maybe")])
def test_a_log_setting_outside_its_choices_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**PG, name: value})


def test_a_plans_file_without_the_free_plan_is_refused_at_start(tmp_path: Path) -> None:
    plans = tmp_path / "plans.toml"
    plans.write_text(
        '[plans.pro]\ntitle = "Pro"\nprice_cents_monthly = 900\nmonthly_credits = 100\napi_access = true\n'
    )
    with pytest.raises(ConfigError, match="no plan named 'free'"):
        PlanCatalogue.load(plans)


MAIL_ENV = {
    "MOSAIC_DATABASE_URL": "sqlite:///unused.db", "MOSAIC_SECRET": "s" * 40,
    "MOSAIC_MAIL_FROM": "Mosaic <no-reply@studio.example.com>", "MOSAIC_PUBLIC_URL": "https://studio.example.com",
}


@pytest.mark.parametrize(
    ("url", "security", "port"),
    [
        ("smtp://u:p@mail.example.com:587", "starttls", 587),
        ("smtp://u:p@mail.example.com", "starttls", 587),
        ("smtp+starttls://u:p@mail.example.com:2525", "starttls", 2525),
        ("smtps://u:p@mail.example.com", "tls", 465),
        ("smtp://mail.example.com:25", "none", 25),
        ("smtp://u:p@127.0.0.1:2525", "none", 2525),
    ],
)
def test_the_smtp_url_says_how_the_connection_is_secured(url: str, security: str, port: int) -> None:
    smtp = Settings.from_env({**MAIL_ENV, "MOSAIC_SMTP_URL": url}).smtp
    assert smtp is not None and (smtp.security, smtp.port) == (security, port)


def test_an_smtp_password_with_reserved_characters_is_unquoted() -> None:
    smtp = Settings.from_env({**MAIL_ENV, "MOSAIC_SMTP_URL": "smtps://ada%40shop:p%2Fw%40rd@mail.example.com"}).smtp
    assert smtp is not None and (smtp.user, smtp.password) == ("ada@shop", "p/w@rd")
    assert "p/w@rd" not in repr(smtp)


@pytest.mark.parametrize("host", ["mail.example.com", "10.0.0.5", "[2001:db8::1]"])
def test_a_password_is_never_sent_in_plain_text_to_another_host(host: str) -> None:
    with pytest.raises(ConfigError, match="plain text"):
        Settings.from_env({**MAIL_ENV, "MOSAIC_SMTP_URL": f"smtp://u:p@{host}:25"})


@pytest.mark.parametrize(
    ("missing", "named"), [("MOSAIC_MAIL_FROM", "MOSAIC_MAIL_FROM"), ("MOSAIC_PUBLIC_URL", "MOSAIC_PUBLIC_URL")]
)
def test_smtp_without_a_sender_or_a_public_url_is_refused(missing: str, named: str) -> None:
    env = {**MAIL_ENV, "MOSAIC_SMTP_URL": "smtps://u:p@mail.example.com"}
    del env[missing]
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "smtp://mail.example.com:notaport"])
def test_an_smtp_url_that_cannot_work_is_refused_naming_the_variable(url: str) -> None:
    with pytest.raises(ConfigError, match="MOSAIC_SMTP_URL"):
        Settings.from_env({**MAIL_ENV, "MOSAIC_SMTP_URL": url})


def test_without_smtp_account_mail_is_off() -> None:
    assert Settings.from_env(MAIL_ENV).smtp is None
