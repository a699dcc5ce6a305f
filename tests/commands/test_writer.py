"""The single writer: withdrawn commands never commit; an id of another aggregate kind is not found; a
command that fails halfway leaves no trace and does not sink its group."""

from __future__ import annotations

import threading
import uuid

import pytest

from mosaic.bootstrap import Services
from mosaic.commands.writer import Unit
from mosaic.domain.accounts import Account
from mosaic.domain.errors import InsufficientCredits, NotFound
from mosaic.domain.keys import ApiKey


def test_a_command_withdrawn_before_the_writer_reaches_it_never_runs(services: Services) -> None:
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def slow(unit: Unit) -> None:
        started.set()
        release.wait(10)
        ran.append("slow")

    def withdrawn(unit: Unit) -> None:
        ran.append("withdrawn")

    first = services.writer.submit(slow)
    assert started.wait(10)
    second = services.writer.submit(withdrawn)
    assert second.cancel()  # what `execute` does when its wait runs out
    release.set()
    first.result(timeout=10)
    services.writer.execute(lambda unit: ran.append("after"))
    assert ran == ["slow", "after"]


def test_revoking_an_id_that_names_an_account_not_a_key_is_not_found(services: Services) -> None:
    committed = services.ledger.register_user(email="ada@example.com", password="correct horse battery")
    user_id, account_id = committed.value.user_id, committed.value.account_id
    with pytest.raises(NotFound):
        services.ledger.revoke_key(user_id=user_id, key_id=account_id)
    assert services.writer.execute(lambda unit: unit.find(ApiKey, user_id)).value is None
    assert services.writer.execute(lambda unit: unit.find(ApiKey, uuid.uuid4())).value is None


def test_a_command_that_fails_after_changing_an_account_leaves_no_trace_and_its_group_commits(
    services: Services,
) -> None:
    account_id = services.ledger.register_user(email="ada@example.com", password="correct horse battery").value.account_id
    balance = services.writer.execute(lambda unit: unit.find(Account, account_id)).value
    assert balance is not None
    start = balance.available_credits
    started, release = threading.Event(), threading.Event()

    def hold(unit: Unit) -> None:  # keeps the writer busy so the next three form one group
        started.set()
        release.wait(10)

    def grant(unit: Unit, amount: int) -> None:
        found = unit.find(Account, account_id)
        assert found is not None
        found.grant_credits(grant_id=uuid.uuid4(), amount_credits=amount, reason="test", issued_by="test")

    def grant_then_fail(unit: Unit) -> None:
        grant(unit, 1_000)
        raise InsufficientCredits(available_credits=0, needed_credits=1)  # after changing the account

    held = services.writer.submit(hold)
    assert started.wait(10)
    first = services.writer.submit(lambda unit: grant(unit, 5))
    failing = services.writer.submit(grant_then_fail)
    last = services.writer.submit(lambda unit: grant(unit, 7))
    release.set()
    held.result(timeout=10)
    first.result(timeout=10)
    last.result(timeout=10)
    with pytest.raises(InsufficientCredits):
        failing.result(timeout=10)
    cached = services.writer.execute(lambda unit: unit.find(Account, account_id)).value
    stored = services.store.replay(account_id)
    assert isinstance(stored, Account) and cached is not None
    assert cached.available_credits == stored.available_credits == start + 12
    assert cached.version == stored.version
