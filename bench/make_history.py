"""Fixture script: a valid credit history of N events, written the way the writer writes them.

Aggregates are driven through their public methods in memory (every rule applies), and their events
are stored in bulk through the library's recorder, so the log is exactly what the service would
have recorded, only faster to produce.

    .venv/bin/python bench/make_history.py sqlite:////tmp/history.db 1000000
"""

from __future__ import annotations

import sys
import time
import uuid
from typing import Any

from mosaic.bootstrap import build
from mosaic.config import Settings
from mosaic.domain.accounts import Account
from mosaic.domain.plans import Plan

COMMERCIAL = Plan("commercial", "Commercial", 4399, 800, True)
ACCOUNTS = 200
CHUNK_EVENTS = 20_000


def make_history(database_url: str, events_wanted: int, secret: str = "bench-secret-" + "x" * 40) -> None:
    services = build(Settings.from_env({"MOSAIC_DATABASE_URL": database_url, "MOSAIC_SECRET": secret}), background=False)
    started = time.perf_counter()
    accounts = []
    for _ in range(ACCOUNTS):
        account = Account.open(account_id=uuid.uuid4(), owner_user_id=uuid.uuid4(), plan=COMMERCIAL, sub_status="active")
        account.start_period(period="2026-01")
        account.grant_credits(grant_id=uuid.uuid4(), amount_credits=1_000_000, reason="bench", issued_by="bench")
        accounts.append(account)
    written, turn = 0, 0
    while written < events_wanted:
        pending: list[Any] = []
        while len(pending) < CHUNK_EVENTS:
            account = accounts[turn % ACCOUNTS]
            turn += 1
            request_id = uuid.uuid4()
            account.reserve(request_id=request_id, tool="cbn", cost_credits=1 + turn % 3)
            if turn % 10 == 0:
                account.release(request_id=request_id, reason="generation failed")
            else:
                account.capture(request_id=request_id)
                if turn % 25 == 1:
                    account.refund(refund_id=uuid.uuid4(), charge_id=request_id, amount_credits=1, reason="r", issued_by="s")
            pending.extend(account.collect_events())
        services.store.events.put(pending[: events_wanted - written])
        written += min(len(pending), events_wanted - written)
        print(f"\r{written:,} events", end="", file=sys.stderr)
    print(f"\nwrote {written:,} events in {time.perf_counter() - started:.1f} s; projecting…", file=sys.stderr)
    services.runner.catch_up()
    print(f"done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    services.close()


if __name__ == "__main__":
    make_history(sys.argv[1], int(sys.argv[2]))
