"""The composition root: builds everything a process runs from `Settings`, once, for the server, the
CLI and tests. Nothing else constructs the store, the writer, the pool or the use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mosaic.commands.account_mail import AccountMail
from mosaic.commands.billing import Billing
from mosaic.commands.generate import Generate
from mosaic.commands.idempotency import IdempotencyStore
from mosaic.commands.ledger import Clock, Ledger, utc_now
from mosaic.commands.lifecycle import Background
from mosaic.commands.outbox import Outbox
from mosaic.commands.owners import Owners
from mosaic.commands.paid import Payments
from mosaic.commands.plans import PlanCatalogue
from mosaic.commands.pool import ImagePool
from mosaic.commands.schema import ensure_schema, head_revision
from mosaic.commands.store import AggregateLocks, LedgerStore, open_store
from mosaic.commands.stripe_gateway import StripeGateway
from mosaic.commands.support import Support
from mosaic.commands.sweeper import Sweeper
from mosaic.commands.upstream import Upstream
from mosaic.commands.use_cases import UseCases
from mosaic.commands.writer import Committed, Writer
from mosaic.config import Settings, TimeBudget
from mosaic.queries.audit_reads import AuditReads
from mosaic.queries.db import Database
from mosaic.queries.health import Health
from mosaic.queries.runner import ProjectionRunner
from mosaic.queries.usage import KeyUsage
from mosaic.queries.views import Views

RUNNER_APPLICATION_NAME = "mosaic-views"


@dataclass
class Services:
    settings: Settings
    budget: TimeBudget
    store: LedgerStore
    writer: Writer
    ledger: Ledger
    db: Database
    runner: ProjectionRunner
    views: Views
    usage: KeyUsage
    ai: Upstream  # the upstream AI service (`ai.configured` is False without MOSAIC_AI_BASE_URL)
    pool: ImagePool  # its processes start on first use, or when `Background.running` warms them
    sweeper: Sweeper
    use_cases: UseCases

    def settle(self, committed: Committed[Any]) -> None:
        """Wait until the views show `committed` (read-your-writes)."""
        self.runner.settle(committed.position)

    def close(self) -> None:
        self.use_cases.mail.close()  # mails handed over are sent while the ledger still takes commands
        self.runner.stop()
        self.runner.db.close()
        self.pool.close()
        self.writer.close()
        self.store.close()
        self.db.close()


def build(settings: Settings, *, background: bool = True, clock: Clock = utc_now) -> Services:
    """Check (PostgreSQL) or create (SQLite) the schema, then wire every part.

    With `background`, a thread keeps the views current; without it (CLI, most tests) callers that
    wait for a position fold the new events themselves.
    """
    ensure_schema(settings.database)
    budget = settings.time_budget()
    store = open_store(settings.database)
    db = Database(settings.database)
    # the views' runner folds on connections of its own: requests never wait for one behind it, nor
    # it behind them, and an operator sees it by name (`RUNNER_APPLICATION_NAME`)
    runner = ProjectionRunner(
        store, Database(
            settings.database, application_name=RUNNER_APPLICATION_NAME, pool_max=2, check_connections=True
        )
    )
    locks = AggregateLocks(settings.database) if settings.database.dialect == "postgresql" else None
    writer = Writer(store, on_commit=runner.notify, locks=locks)
    ledger = Ledger(
        store=store,
        writer=writer,
        plans=PlanCatalogue.load(settings.plans_file),
        secret=settings.secret,
        clock=clock,
    )
    views, usage, upstream = Views(db), KeyUsage(db), Upstream.from_settings(settings)
    pool = ImagePool(workers=settings.image_pool_size(), job_timeout_s=budget.job_timeout_s)
    sweeper = Sweeper(
        ledger=ledger, views=views, catch_up=runner.catch_up,
        timeout=timedelta(seconds=settings.reservation_timeout_s), interval_s=budget.sweep_interval_s,
        exclusive=db.exclusive,
    )
    idempotency = IdempotencyStore(db, lease_s=budget.idempotency_lease_s, ttl_s=settings.idempotency_ttl_s)

    def settle(committed: Committed[Any]) -> None:
        runner.settle(committed.position)

    payments = Payments(writer, work_budget_s=budget.work_s)
    outbox = Outbox(settings.smtp, sender=settings.mail_from) if settings.smtp is not None else None
    mail = AccountMail(
        ledger=ledger, views=views, settle=settle, outbox=outbox, public_url=settings.public_url
    )
    use_cases = UseCases(
        generate=Generate(pool=pool, payments=payments, upstream=upstream),
        owners=Owners(ledger=ledger, views=views, usage=usage, settle=settle, mail=mail),
        mail=mail,
        billing=Billing(
            ledger=ledger, views=views, settle=settle, gateway=StripeGateway.from_settings(settings),
            public_url=settings.public_url,
        ),
        support=Support(ledger=ledger, views=views, settle=settle, catch_up=runner.catch_up),
        views=views,
        audit=AuditReads(
            db=db, views=views, runner=runner, log_head=store.recorder.max_notification_id,
            secret=settings.secret,
        ),
        health=Health(
            db, schema_revision=head_revision(), log_head=store.recorder.max_notification_id,
            views_position=lambda: runner.position, event_time=store.event_time, clock=clock,
        ),
        idempotency=idempotency,
        runner=runner,
        background=Background(pool=pool, sweeper=sweeper, idempotency=idempotency, payments=payments),
    )
    services = Services(
        settings, budget, store, writer, ledger, db, runner, views, usage, upstream, pool, sweeper, use_cases
    )
    if background:
        runner.start()
    return services
