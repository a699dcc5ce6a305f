"""Two writers (two composition roots, as two servers have) on one account: after a conflict they
catch the account up before each use, under its lock on PostgreSQL, instead of colliding and
replaying it from event zero every time the other one has written."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from mosaic.bootstrap import Services
from mosaic.commands.paid import Charge, ReserveCharges, SettleCharges
from mosaic.domain.accounts import Account
from tests.conftest import both_backends


def cycle(services: Services, account_id: uuid.UUID) -> None:
    """One paid request: reserve a credit, capture it."""
    charge = Charge(account_id, uuid.uuid4(), "cbn", 1)
    (attempt_id,), _, _ = services.writer.execute(ReserveCharges((charge,))).value
    services.writer.execute(SettleCharges(account_id, captures=(attempt_id,), releases=()))


@both_backends()
def test_two_writers_taking_turns_on_one_account_stop_conflicting_after_the_first_time(
    make_services: Callable[..., Services],
) -> None:
    first, second = make_services(), make_services()
    registered = first.ledger.register_user(
        email="shop@example.com", password="correct horse battery", plan_name="commercial"
    )
    account_id = registered.value.account_id
    cycle(first, account_id)
    cycle(second, account_id)  # loads the account: nothing cached to be stale yet
    cycle(first, account_id)  # its copy is stale: a conflict, then the account is contended
    cycle(second, account_id)  # learns it from the announcement, or from a conflict of its own
    assert first.writer.retries >= 1
    before = [(s.writer.retries, s.writer.loads, s.writer.catch_ups) for s in (first, second)]

    for _ in range(10):
        cycle(first, account_id)
        cycle(second, account_id)

    after = [(s.writer.retries, s.writer.loads, s.writer.catch_ups) for s in (first, second)]
    for (retries, loads, catch_ups), (retries_then, loads_then, catch_ups_then) in zip(after, before, strict=True):
        assert (retries, loads) == (retries_then, loads_then)  # no conflict, no replay from event zero
        assert catch_ups - catch_ups_then == 20  # each of its commands read what the other wrote
    stored = first.store.replay(account_id)
    assert isinstance(stored, Account)
    assert (stored.balance_credits, stored.reserved_credits) == (800 - 24, 0)
    assert stored.version == 1 + 1 + 2 * 24  # opened, the month's quota, a reserve and a capture a cycle
