"""Configuration: every `MOSAIC_*` environment variable, read once into one frozen object."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_DATABASE_URL = "sqlite:///mosaic.db"
SECRET_BYTES_MIN = 32


WORK_SHARE_OF_RESERVATION: Final = 0.8  # of the reservation timeout for paid work; the rest for settling
AI_TIMEOUTS_PER_CALL_MAX: Final = 2  # an upstream call: up to its timeout for a slot, then for the call
JOB_TIMEOUT_S_MAX: Final = 300.0  # one worker job taking longer is abandoned (its credits released)
SWEEP_INTERVAL_S_MAX: Final = 30.0
DATABASE_CONNECT_TIMEOUT_S: Final = 3  # every PostgreSQL connection: a server gone fails in seconds
SWEEPS_PER_TIMEOUT: Final = 2  # a stale reservation is released at most 1.5 timeouts after it was made
LOG_FORMATS: Final = ("json", "text")
LOG_LEVELS: Final = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """A setting that cannot work; the message names the variable and what to set."""


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """`sqlite:///relative.db`, `sqlite:////abs/path.db` or `postgresql://user:pw@host:port/db`.

    As in libpq's URIs, a `host` query parameter names the host instead, and a directory there is
    where the server's Unix socket is: `postgresql://user@/db?host=/var/run/postgresql`."""

    url: str
    dialect: str  # "sqlite" | "postgresql"
    path: str = ""
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""

    @classmethod
    def parse(cls, url: str) -> DatabaseUrl:
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///") :]
            if not path:
                raise ConfigError("MOSAIC_DATABASE_URL: sqlite:/// needs a file path")
            return cls(url=url, dialect="sqlite", path=str(Path(path).resolve()))
        parts = urlsplit(url)
        if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
            dbname = parts.path.lstrip("/")
            if not dbname:
                raise ConfigError("MOSAIC_DATABASE_URL: name the database, e.g. postgresql://u@h/db")
            host = parse_qs(parts.query).get("host", [""])[-1] or parts.hostname or "127.0.0.1"
            return cls(
                url=url,
                dialect="postgresql",
                host=host,
                port=parts.port or 5432,
                user=unquote(parts.username or "postgres"),
                password=unquote(parts.password or ""),
                dbname=dbname,
            )
        scheme = url.split(":", maxsplit=1)[0]
        raise ConfigError(f"MOSAIC_DATABASE_URL must start with sqlite:/// or postgresql://, not {scheme!r}")

    @property
    def sqlalchemy_url(self) -> str:
        if self.dialect == "sqlite":
            return f"sqlite:///{self.path}"
        from sqlalchemy.engine import URL  # quotes any character a password may hold

        if self.on_unix_socket:  # a directory cannot be the URL's host; libpq takes it as a parameter
            url = URL.create(
                "postgresql+psycopg", self.user, self.password or None, database=self.dbname,
                query={"host": self.host, "port": str(self.port)},
            )
        else:
            url = URL.create(
                "postgresql+psycopg", self.user, self.password or None, self.host, self.port, self.dbname
            )
        return url.render_as_string(hide_password=False)

    @property
    def on_unix_socket(self) -> bool:
        return self.dialect == "postgresql" and self.host.startswith("/")

    @property
    def psycopg_conninfo(self) -> str:
        assert self.dialect == "postgresql"
        from psycopg.conninfo import make_conninfo  # quotes spaces and quotes in values

        return make_conninfo(
            host=self.host, port=self.port, user=self.user, dbname=self.dbname, password=self.password or None
        )


SMTP_SCHEMES: Final = ("smtp", "smtp+starttls", "smtps")
SMTP_SUBMISSION_PORT: Final = 587  # where STARTTLS is the rule (RFC 6409)


@dataclass(frozen=True, slots=True)
class SmtpUrl:
    """`smtp://user:pass@host:587` (STARTTLS on port 587), `smtp+starttls://…` (STARTTLS on any port),
    `smtps://…` (TLS from the first byte, port 465 by default) or `smtp://host:25` (no TLS).

    A password never crosses a network in plain text: without TLS it is accepted only for a server
    on this host (loopback), e.g. a local relay or a test server."""

    url: str = field(repr=False)
    host: str
    port: int
    security: str  # "starttls" | "tls" | "none"
    user: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def parse(cls, url: str) -> SmtpUrl:
        name = "MOSAIC_SMTP_URL"
        parts = urlsplit(url)
        if parts.scheme not in SMTP_SCHEMES:
            raise ConfigError(
                f"{name} must start with smtp://, smtp+starttls:// or smtps://, not {parts.scheme!r}"
            )
        if not parts.hostname:
            raise ConfigError(f"{name} must name the server, e.g. smtp://user:pass@mail.example.com:587")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else SMTP_SUBMISSION_PORT)
        except ValueError:
            raise ConfigError(f"{name}: the port must be a number from 1 to 65535") from None
        if parts.scheme == "smtps":
            security = "tls"
        elif parts.scheme == "smtp+starttls" or port == SMTP_SUBMISSION_PORT:
            security = "starttls"
        else:
            security = "none"
        smtp = cls(
            url=url, host=parts.hostname, port=port, security=security,
            user=unquote(parts.username or ""), password=unquote(parts.password or ""),
        )
        if smtp.password and security == "none" and not smtp.on_loopback:
            raise ConfigError(
                f"{name} would send its password in plain text to {smtp.host}: use port 587 "
                "(STARTTLS), smtp+starttls:// or smtps://"
            )
        return smtp

    @property
    def on_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@dataclass(frozen=True, slots=True)
class Settings:
    database: DatabaseUrl
    secret: bytes = field(repr=False)
    ratelimit_storage: str = "memory://"
    ratelimit_api: str = "600/minute"
    ratelimit_login: str = "10/minute"
    jwt_ttl_s: int = 3600
    reservation_timeout_s: int = 900
    idempotency_ttl_s: int = 24 * 3600
    plans_file: Path | None = None
    server_workers: int = 1  # serving processes on this host (`mosaic serve --workers`)
    image_workers: int = 0  # image processes per serving process; 0: the cores shared among them
    trusted_proxies: tuple[str, ...] = ()  # addresses or networks whose X-Forwarded-For is believed
    shutdown_grace_s: int = 60  # on SIGTERM, how long in-flight requests may take to finish
    log_format: str = "json"
    log_level: str = "info"
    # one line per request: off by default, since the proxy in front (the guide's nginx) logs every
    # request with its id, and the line costs about half of a cached balance read's CPU
    access_log: bool = False
    ai_base_url: str = ""
    ai_api_key: str = field(default="", repr=False)
    ai_model: str = "gpt-image-1"
    ai_timeout_s: float = 60.0
    ai_concurrency: int = 4
    # Stripe (optional): without the secret key, billing routes answer 503 billing_unavailable
    stripe_secret_key: str = field(default="", repr=False)
    stripe_webhook_secret: str = field(default="", repr=False)
    stripe_api_base: str = "https://api.stripe.com"  # another for a test double (stripe-mock, a fake)
    public_url: str = ""  # the base URL people reach this server at: checkout and mail links return here
    # account mail (optional): without it sign-up works unverified and `forgot` answers 503
    smtp: SmtpUrl | None = None
    mail_from: str = ""

    @property
    def billing_configured(self) -> bool:
        return bool(self.stripe_secret_key)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, existing: bool = False) -> Settings:
        """Settings from MOSAIC_* variables. With `existing`, an SQLite file that is not there yet is
        an error, not a new empty database (nor a new secret beside it): for commands that read or
        change what a server already holds, run in the wrong directory."""
        env = os.environ if env is None else env
        database = DatabaseUrl.parse(env.get("MOSAIC_DATABASE_URL", DEFAULT_DATABASE_URL))
        if existing and database.dialect == "sqlite" and not Path(database.path).exists():
            raise ConfigError(
                f"no database at {database.path}: run this where `mosaic serve` keeps its database, "
                "or set MOSAIC_DATABASE_URL"
            )
        if "MOSAIC_WORKERS" in env:
            raise ConfigError(
                "MOSAIC_WORKERS is no longer read: set MOSAIC_SERVER_WORKERS (serving processes) "
                "and MOSAIC_IMAGE_WORKERS (image processes per serving process) instead"
            )
        plans = env.get("MOSAIC_PLANS_FILE")
        default: dict[str, object] = {f.name: f.default for f in dataclasses.fields(cls)}

        def text(name: str, variable: str) -> str:
            return env.get(variable) or str(default[name])

        def whole(name: str, variable: str, low: int, high: int) -> int:
            value = default[name]
            assert isinstance(value, int | float), name
            return _int(env, variable, int(value), low, high)

        settings = cls(
            database=database,
            secret=_secret(env, database),
            ratelimit_storage=text("ratelimit_storage", "MOSAIC_RATELIMIT_STORAGE"),
            ratelimit_api=text("ratelimit_api", "MOSAIC_RATELIMIT"),
            ratelimit_login=text("ratelimit_login", "MOSAIC_RATELIMIT_LOGIN"),
            jwt_ttl_s=whole("jwt_ttl_s", "MOSAIC_JWT_TTL_S", 60, 30 * 24 * 3600),
            reservation_timeout_s=whole(
                "reservation_timeout_s", "MOSAIC_RESERVATION_TIMEOUT_S", 1, 7 * 24 * 3600
            ),
            idempotency_ttl_s=whole("idempotency_ttl_s", "MOSAIC_IDEMPOTENCY_TTL_S", 60, 30 * 24 * 3600),
            plans_file=Path(plans) if plans else None,
            server_workers=whole("server_workers", "MOSAIC_SERVER_WORKERS", 1, 64),
            image_workers=whole("image_workers", "MOSAIC_IMAGE_WORKERS", 0, 64),
            trusted_proxies=_networks(env, "MOSAIC_TRUSTED_PROXIES"),
            shutdown_grace_s=whole("shutdown_grace_s", "MOSAIC_SHUTDOWN_GRACE_S", 1, int(JOB_TIMEOUT_S_MAX)),
            log_format=_choice(env, "MOSAIC_LOG_FORMAT", str(default["log_format"]), LOG_FORMATS),
            log_level=_choice(env, "MOSAIC_LOG_LEVEL", str(default["log_level"]), LOG_LEVELS),
            access_log=_choice(env, "MOSAIC_ACCESS_LOG", "off", ("on", "off")) == "on",
            ai_base_url=env.get("MOSAIC_AI_BASE_URL", "").rstrip("/"),
            ai_api_key=env.get("MOSAIC_AI_API_KEY", ""),
            ai_model=text("ai_model", "MOSAIC_AI_MODEL"),
            ai_timeout_s=float(whole("ai_timeout_s", "MOSAIC_AI_TIMEOUT_S", 1, 600)),
            ai_concurrency=whole("ai_concurrency", "MOSAIC_AI_CONCURRENCY", 1, 64),
            stripe_secret_key=env.get("MOSAIC_STRIPE_SECRET_KEY", ""),
            stripe_webhook_secret=env.get("MOSAIC_STRIPE_WEBHOOK_SECRET", ""),
            stripe_api_base=_url(env, "MOSAIC_STRIPE_API_BASE", str(default["stripe_api_base"])),
            public_url=_url(env, "MOSAIC_PUBLIC_URL", ""),
            smtp=SmtpUrl.parse(env["MOSAIC_SMTP_URL"]) if env.get("MOSAIC_SMTP_URL") else None,
            mail_from=env.get("MOSAIC_MAIL_FROM", "").strip(),
        )
        if settings.stripe_secret_key and not settings.stripe_webhook_secret:
            raise ConfigError(
                "MOSAIC_STRIPE_SECRET_KEY is set without MOSAIC_STRIPE_WEBHOOK_SECRET: payments could "
                "start but never be credited (set the webhook endpoint's signing secret, whsec_...)"
            )
        if settings.stripe_secret_key and not settings.public_url:
            raise ConfigError(
                "MOSAIC_STRIPE_SECRET_KEY needs MOSAIC_PUBLIC_URL (e.g. https://studio.example.com): "
                "Stripe's checkout and portal send customers back there"
            )
        if settings.smtp is not None:
            _check_mail(settings)
        settings.time_budget()  # refuses timeouts that do not fit, naming the variables
        return settings

    def time_budget(self) -> TimeBudget:
        return TimeBudget.of(self)

    def image_pool_size(self, cores: int | None = None) -> int:
        """Image processes of one serving process: as set, or this host's cores shared among the
        serving processes (each at least one), so N workers do not start N × cores image processes."""
        if self.image_workers:
            return self.image_workers
        return max(1, (cores or os.cpu_count() or 1) // self.server_workers)

    def with_server_workers(self, workers: int) -> Settings:
        return dataclasses.replace(self, server_workers=workers)


@dataclass(frozen=True, slots=True)
class TimeBudget:
    """Every time limit of paid work, derived from the reservation timeout in one place.

    Paid work must end within `work_s` of its reservation (the rest of the reservation is for
    settling), so the sweeper never releases credits under work still running: a worker job gives
    up within it, an AI call (a wait for a slot, then the call) ends within it, and the sweeper looks
    often enough that a stale reservation is released within 1.5 timeouts.
    """

    reservation_timeout_s: float
    work_s: float
    job_timeout_s: float
    sweep_interval_s: float
    ai_timeout_s: float
    idempotency_lease_s: float  # a claimed Idempotency-Key is held as long as its reservation may be

    @classmethod
    def of(cls, settings: Settings) -> TimeBudget:
        reservation_s = float(settings.reservation_timeout_s)
        work_s = WORK_SHARE_OF_RESERVATION * reservation_s
        if settings.ai_base_url and AI_TIMEOUTS_PER_CALL_MAX * settings.ai_timeout_s >= work_s:
            raise ConfigError(
                f"MOSAIC_AI_TIMEOUT_S={settings.ai_timeout_s:g} is too long for "
                f"MOSAIC_RESERVATION_TIMEOUT_S={settings.reservation_timeout_s}: an AI call may take "
                f"{AI_TIMEOUTS_PER_CALL_MAX}× its timeout (a wait for a slot, then the call), which must end "
                f"within {work_s:g} s; lower the one or raise the other"
            )
        budget = cls(
            reservation_timeout_s=reservation_s,
            work_s=work_s,
            job_timeout_s=min(JOB_TIMEOUT_S_MAX, work_s),
            sweep_interval_s=min(SWEEP_INTERVAL_S_MAX, reservation_s / SWEEPS_PER_TIMEOUT),
            ai_timeout_s=settings.ai_timeout_s,
            idempotency_lease_s=reservation_s,
        )
        assert 0 < budget.job_timeout_s <= budget.work_s < budget.reservation_timeout_s
        assert budget.sweep_interval_s <= budget.reservation_timeout_s / SWEEPS_PER_TIMEOUT
        assert budget.idempotency_lease_s >= budget.work_s
        return budget


def _check_mail(settings: Settings) -> None:
    if "@" not in settings.mail_from or not settings.mail_from.isprintable():
        raise ConfigError(
            "MOSAIC_SMTP_URL needs MOSAIC_MAIL_FROM, the sender of account mail "
            "(e.g. 'Mosaic Studio <no-reply@studio.example.com>')"
        )
    if not settings.public_url:
        # A link built from the request's Host header would let anyone who asks for a reset of
        # someone else's address have the victim's token sent to a host of their choosing.
        raise ConfigError(
            "MOSAIC_SMTP_URL needs MOSAIC_PUBLIC_URL (e.g. https://studio.example.com): "
            "the verification and reset links in the mails point there"
        )


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of IP addresses or networks (CIDR), each checked."""
    items = [item.strip() for item in env.get(name, "").split(",") if item.strip()]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(
                f"{name}: {item!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
            ) from None
    return tuple(items)


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if value and not (value.startswith(("http://", "https://")) and len(value) > len("https://")):
        raise ConfigError(f"{name} must be an http:// or https:// URL, not {value!r}")
    return value.rstrip("/")


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (env.get(name) or default).lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _secret(env: Mapping[str, str], database: DatabaseUrl) -> bytes:
    """MOSAIC_SECRET, or (SQLite only) a secret kept in a file beside the database, made once."""
    raw = env.get("MOSAIC_SECRET", "")
    if raw:
        if len(raw.encode()) < SECRET_BYTES_MIN:
            raise ConfigError(f"MOSAIC_SECRET must be at least {SECRET_BYTES_MIN} bytes long")
        return raw.encode()
    if database.dialect != "sqlite":
        raise ConfigError(
            "MOSAIC_SECRET is required with PostgreSQL (every server must share it): "
            "set it to a random string of at least 32 characters"
        )
    path = Path(database.path + ".secret")
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()
