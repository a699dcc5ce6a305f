"""A separate OS process of callers for the two-process ledger test.

Usage: python -m tests.commands.ledger_worker DATABASE_URL ACCOUNT_ID CALLS_JSON THREADS
Prints one JSON object: {idempotency key: [outcome of each call with that key]}.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from mosaic.bootstrap import build
from mosaic.commands.idempotency import request_id_for
from mosaic.domain.errors import InsufficientCredits
from tests.conftest import settings_for


def main(database_url: str, account: str, calls_json: str, threads: int) -> None:
    services = build(settings_for(database_url), background=False)
    account_id = uuid.UUID(account)
    calls: list[str] = json.loads(calls_json)

    def call(idempotency_key: str) -> tuple[str, str]:
        request_id = request_id_for(account_id, idempotency_key)
        try:
            reserved = services.ledger.reserve(
                account_id=account_id, request_id=request_id, tool="cbn", cost_credits=1
            ).value
        except InsufficientCredits:
            return idempotency_key, "refused"
        if reserved.state == "released":
            return idempotency_key, "refused"
        if not reserved.repeat:
            services.ledger.capture(account_id=account_id, request_id=request_id)
        return idempotency_key, "charged"

    outcomes: dict[str, list[str]] = defaultdict(list)
    with ThreadPoolExecutor(threads) as pool:
        for key, outcome in pool.map(call, calls):
            outcomes[key].append(outcome)
    print(json.dumps({"outcomes": outcomes, "retries": services.writer.retries}))
    services.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
