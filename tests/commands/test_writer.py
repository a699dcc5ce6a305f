"""The single writer: withdrawn commands never commit; an id of another aggregate kind is not found."""

from __future__ import annotations

import threading
import uuid

import pytest

from mosaic.bootstrap import Services
from mosaic.commands.writer import Unit
from mosaic.domain.errors import NotFound
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
