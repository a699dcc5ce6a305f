"""The composition root: builds the application from `Settings`, once, for the server, CLI and tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mosaic.commands.ledger import Clock, Ledger, utc_now
from mosaic.commands.plans import PlanCatalogue
from mosaic.commands.store import LedgerStore, open_store
from mosaic.commands.upstream import Upstream
from mosaic.commands.writer import Committed, Writer
from mosaic.config import Settings
from mosaic.database import ensure_schema
from mosaic.queries.db import Database
from mosaic.queries.runner import ProjectionRunner
from mosaic.queries.usage import KeyUsage
from mosaic.queries.views import Views


@dataclass
class Services:
    settings: Settings
    store: LedgerStore
    writer: Writer
    ledger: Ledger
    db: Database
    runner: ProjectionRunner
    views: Views
    usage: KeyUsage
    ai: Upstream  # the upstream AI service (`ai.configured` is False without MOSAIC_AI_BASE_URL)

    def settle(self, committed: Committed[Any]) -> None:
        """Wait until the views show `committed` (read-your-writes)."""
        if not self.runner.wait_for(committed.position):
            raise TimeoutError(f"views did not reach position {committed.position} in time")

    def close(self) -> None:
        self.runner.stop()
        self.writer.close()
        self.store.close()
        self.db.close()


def build(settings: Settings, *, background: bool = True, clock: Clock = utc_now) -> Services:
    """Check (PostgreSQL) or create (SQLite) the schema, then wire every part.

    With `background`, a thread keeps the views current; without it (CLI, most tests) callers that
    wait for a position fold the new events themselves.
    """
    ensure_schema(settings.database)
    store = open_store(settings.database)
    db = Database(settings.database)
    runner = ProjectionRunner(store, db)
    writer = Writer(store, on_commit=runner.notify)
    ledger = Ledger(
        store=store,
        writer=writer,
        plans=PlanCatalogue.load(settings.plans_file),
        secret=settings.secret,
        clock=clock,
    )
    services = Services(
        settings, store, writer, ledger, db, runner, Views(db), KeyUsage(db), Upstream.from_settings(settings)
    )
    if background:
        runner.start()
    return services
