"""A separate OS process of callers for the two-process ledger test.

Usage: python -m tests.commands.ledger_worker DATABASE_URL ACCOUNT_ID CALLS_JSON THREADS
Prints one JSON object: {idempotency key: [outcome of each call with that key]}.
"""

from __future__ import annotations

import contextlib
import json
import sys
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from mosaic.bootstrap import build
from mosaic.commands.idempotency import request_id_for
from mosaic.commands.paid import Charge, ReserveCharges, SettleCharges
from mosaic.domain.errors import AlreadyCompleted, InsufficientCredits, ReservationNotOpen
from tests.conftest import settings_for


def main(database_url: str, account: str, calls_json: str, threads: int) -> None:
    services = build(settings_for(database_url), background=False)
    account_id = uuid.UUID(account)
    calls: list[str] = json.loads(calls_json)

    def call(idempotency_key: str) -> tuple[str, str]:
        """One paid request as `Payments` makes it: reserve the request's next attempt, then capture.

        A repeat of a charged request is refused (`AlreadyCompleted`): that key's outcome is "charged".
        A repeat while an attempt is open supersedes it (releases it and reserves the next), so the
        superseded attempt's capture is refused and the repeat's own capture charges the key, once."""
        charge = Charge(account_id, request_id_for(account_id, idempotency_key), "cbn", 1)
        try:
            (attempt_id,), _, _ = services.writer.execute(ReserveCharges((charge,))).value
        except InsufficientCredits:
            return idempotency_key, "refused"
        except AlreadyCompleted:
            return idempotency_key, "charged"
        with contextlib.suppress(ReservationNotOpen):  # superseded by a repeat, captured instead
            services.writer.execute(SettleCharges(account_id, captures=(attempt_id,), releases=()))
        return idempotency_key, "charged"

    outcomes: dict[str, list[str]] = defaultdict(list)
    with ThreadPoolExecutor(threads) as pool:
        for key, outcome in pool.map(call, calls):
            outcomes[key].append(outcome)
    print(json.dumps({"outcomes": outcomes, "retries": services.writer.retries}))
    services.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
