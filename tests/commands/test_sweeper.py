"""Rule 3 with several serving processes: a stale reservation is released once, by whichever
process holds the sweep lock, and the others leave it alone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from mosaic.bootstrap import Services
from mosaic.commands.sweeper import SWEEP_LOCK
from tests import charging

PASSWORD = "correct horse battery"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_processes_sweep_a_stale_reservation_once_and_one_at_a_time(
    make_services: Callable[..., Services],
) -> None:
    first, second = (make_services(MOSAIC_RESERVATION_TIMEOUT_S="1") for _ in range(2))
    registered = first.ledger.register_user(email="sweep@example.com", password=PASSWORD, plan_name="commercial")
    first.settle(registered)
    account_id = registered.value.account_id
    charging.reserve(first, account_id, uuid.uuid4(), tool="cbn", cost_credits=3)
    time.sleep(1.1)  # older than its timeout

    with first.db.exclusive(SWEEP_LOCK) as held:
        assert held
        assert second.sweeper.sweep() == 0, "the lock holder sweeps; the other process does not"
    assert second.sweeper.sweep() == 1
    assert first.sweeper.sweep() == 0, "released once"
    second.runner.catch_up()
    balance = second.views.balance(str(account_id))
    assert balance is not None and balance.balance == 800
