"""Operator sub-commands: serve, db upgrade, users, keys, projections, grant-monthly, sweep.

`with_services` builds the application for one command and turns configuration errors and
refusals into a message and exit status 2."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from typing import TYPE_CHECKING, Any
from uuid import UUID

from mosaic.commands.schema import SchemaOutOfDate, ensure_schema, upgrade
from mosaic.config import ConfigError, Settings
from mosaic.domain.errors import Failure, NotFound
from mosaic.domain.users import ROLES, normalise_email

if TYPE_CHECKING:
    from mosaic.bootstrap import Services

Subparsers = Any  # argparse's _SubParsersAction is private


def fail(message: str) -> int:
    print(f"mosaic: {message}", file=sys.stderr)
    return 2


def build_services(settings: Settings, *, background: bool) -> Services:
    """The whole application for one command. Imported here, not at the top: its imports (imaging,
    the ledger, the drivers) take a second or two that `--help`, a typo or a refusal need not pay."""
    from mosaic.bootstrap import build

    return build(settings, background=background)


def with_services(run: Any, *, creates: bool = False) -> Any:
    """Build the application for one command; turn configuration and rule errors into messages.

    Only a command that `creates` may start a new SQLite database; the others need the server's.
    """

    def handler(args: argparse.Namespace) -> int:
        try:
            services = build_services(Settings.from_env(existing=not creates), background=False)
        except (ConfigError, SchemaOutOfDate) as exc:
            return fail(str(exc))
        try:
            result: int = run(services, args)
            return result
        except Failure as exc:
            return fail(f"{exc.message} ({exc.code})")
        finally:
            services.close()

    return handler


def _serve(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
        if args.workers is not None:
            settings = settings.with_server_workers(args.workers)
        if settings.server_workers > 1 and settings.database.dialect == "sqlite":
            raise ConfigError(
                "several workers need PostgreSQL (MOSAIC_DATABASE_URL=postgresql://…): the embedded "
                "SQLite database is served by one process"
            )
        ensure_schema(settings.database)  # here, so a schema out of date is said once, not by N workers
    except (ConfigError, SchemaOutOfDate) as exc:
        return fail(str(exc))
    from mosaic.http.server import serve

    serve(settings, host=args.host, port=args.port)
    return 0


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number, not {text!r}") from None
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"between 1 and 64, not {value}")
    return value


def _db_upgrade(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        return fail(str(exc))
    upgrade(settings.database)
    print("database schema is up to date")
    return 0


def _read_password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password from stdin when piped, else a generated one (printed once)."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
        if password:
            return password, False
    elif args.prompt:
        return getpass.getpass("password: "), False
    return secrets.token_urlsafe(18), True


def _users_create(services: Services, args: argparse.Namespace) -> int:
    password, generated = _read_password(args)
    committed = services.ledger.register_user(
        email=args.email, password=password, role=args.role, plan_name=args.plan
    )
    services.settle(committed)
    print(f"user {committed.value.user_id} account {committed.value.account_id}", file=sys.stderr)
    if generated:
        print(f"password: {password}")
    return 0


def _user_id(services: Services, email: str) -> UUID:
    user = services.views.user_by_email(normalise_email(email))
    if user is None:
        raise NotFound(f"no user with e-mail {email}")
    return UUID(user.user_id)


def _keys_create(services: Services, args: argparse.Namespace) -> int:
    committed, plain_key = services.ledger.create_key(user_id=_user_id(services, args.email), name=args.name)
    services.settle(committed)
    print(plain_key)
    return 0


def _projections_rebuild(services: Services, args: argparse.Namespace) -> int:
    position = services.runner.rebuild()
    print(f"views rebuilt from event zero up to position {position}")
    return 0


def _grant_monthly(services: Services, args: argparse.Namespace) -> int:
    """Start the current period on every account; safe to run any number of times, on any server."""
    services.runner.catch_up()
    granted = 0
    for account_id in services.views.account_ids():
        granted += bool(services.ledger.start_period(account_id=UUID(account_id)).value)
    print(f"granted this period's quota to {granted} account(s)")
    return 0


def _sweep(services: Services, args: argparse.Namespace) -> int:
    released = services.sweeper.sweep()
    print(f"released {released} stale reservation(s)")
    return 0


def add_admin_commands(commands: Subparsers) -> None:
    serve = commands.add_parser("serve", help="run the HTTP API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers", type=_workers, default=None,
        help="serving processes on this host (default MOSAIC_SERVER_WORKERS, else 1; more need PostgreSQL)",
    )
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="migrate the schema to this version").set_defaults(handler=_db_upgrade)

    users = commands.add_parser("users", help="user accounts").add_subparsers(dest="users", required=True)
    create = users.add_parser("create", help="create a user (password from stdin, or generated)")
    create.add_argument("email")
    create.add_argument("--plan", default="free")
    create.add_argument("--role", choices=ROLES, default="user")
    create.add_argument("--prompt", action="store_true", help="ask for the password on the terminal")
    create.set_defaults(handler=with_services(_users_create, creates=True))

    keys = commands.add_parser("keys", help="API keys").add_subparsers(dest="keys", required=True)
    key = keys.add_parser("create", help="create an API key and print it (shown once)")
    key.add_argument("email")
    key.add_argument("--name", required=True)
    key.set_defaults(handler=with_services(_keys_create))

    projections = commands.add_parser("projections", help="read views").add_subparsers(
        dest="projections", required=True
    )
    projections.add_parser("rebuild", help="rebuild every view from event zero").set_defaults(
        handler=with_services(_projections_rebuild)
    )
    projections.add_parser("run", help="keep the views current, in this process").set_defaults(
        handler=_projections_run
    )
    commands.add_parser("grant-monthly", help="grant this month's quota (idempotent)").set_defaults(
        handler=with_services(_grant_monthly)
    )
    commands.add_parser("sweep", help="release reservations older than their timeout").set_defaults(
        handler=with_services(_sweep)
    )


def _projections_run(args: argparse.Namespace) -> int:
    """Keep the views current in this process (on PostgreSQL, beside servers or instead of theirs)."""
    import signal
    import threading

    try:
        services = build_services(Settings.from_env(existing=True), background=True)
    except (ConfigError, SchemaOutOfDate) as exc:
        return fail(str(exc))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"projecting from position {services.runner.position}; Ctrl-C to stop", file=sys.stderr)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        services.close()
    return 0
