"""Paid work: charged once per request, whatever fails and however often the request is retried."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from mosaic.bootstrap import Services
from mosaic.commands.idempotency import attempt_request_id, request_id_for
from mosaic.commands.paid import (
    ATTEMPTS_PER_REQUEST_MAX,
    SETTLE_TRIES_MAX,
    Charge,
    Held,
    Paid,
    PaidWorkFailed,
    Payments,
)
from mosaic.commands.upstream import UpstreamBusy
from mosaic.commands.writer import LedgerBusy
from mosaic.domain.errors import AlreadyCompleted, AlreadyReleased
from mosaic.queries.views import STATEMENT_PAGE_MAX
from tests.fakes.busy_ledger import busy_settling

PASSWORD = "correct horse battery"
WORK_BUDGET_S = 60.0


def _account(services: Services) -> uuid.UUID:
    committed = services.ledger.register_user(
        email=f"{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD, plan_name="commercial"
    )
    services.settle(committed)
    return committed.value.account_id


def _charge(account_id: uuid.UUID, key: str = "order-1") -> Charge:
    return Charge(account_id, request_id_for(account_id, key), "cbn", 1, "a test charge")


async def _picture(held: Held) -> bytes:
    return b"picture"


async def _busy_upstream(held: Held) -> bytes:
    raise UpstreamBusy("every AI slot stayed busy")


def _pay(services: Services, charge: Charge, work: object = _picture) -> Paid[bytes]:
    payments = Payments(services.writer, work_budget_s=WORK_BUDGET_S)
    return asyncio.run(payments.pay_for_one(charge, work))  # type: ignore[arg-type]


def _credit_lines(services: Services, account_id: uuid.UUID) -> list[tuple[str, str | None]]:
    services.runner.catch_up()
    lines = services.views.statement(str(account_id), limit=STATEMENT_PAGE_MAX)
    return [(line.kind, line.reference) for line in lines if line.kind in ("reserve", "capture", "release")]


def _balance(services: Services, account_id: uuid.UUID) -> int:
    services.runner.catch_up()
    balance = services.views.balance(str(account_id))
    assert balance is not None
    return balance.balance


def test_a_capture_refused_by_a_busy_ledger_is_retried_and_charged_once(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = _account(services)
    busy = busy_settling(monkeypatch, services.ledger.writer, captures=SETTLE_TRIES_MAX - 1)
    paid = _pay(services, _charge(account_id))
    assert (paid.value, paid.charged_credits, paid.remaining_credits) == (b"picture", 1, 799)
    assert busy.refused == SETTLE_TRIES_MAX - 1
    first = str(request_id_for(account_id, "order-1"))
    assert _credit_lines(services, account_id) == [("reserve", first), ("capture", first)]


def test_a_capture_the_ledger_keeps_refusing_is_released_and_a_retry_reserves_a_new_attempt(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = _account(services)
    charge = _charge(account_id)
    busy = busy_settling(monkeypatch, services.ledger.writer, captures=SETTLE_TRIES_MAX)
    with pytest.raises(PaidWorkFailed) as failed:
        _pay(services, charge)
    assert isinstance(failed.value.cause, LedgerBusy)
    assert busy.refused == SETTLE_TRIES_MAX
    paid = _pay(services, charge)  # the ledger answers again
    assert paid.charged_credits == 1
    first, second = charge.request_id, attempt_request_id(charge.request_id, 1)
    assert second != first
    assert _credit_lines(services, account_id) == [
        ("reserve", str(first)), ("release", str(first)), ("reserve", str(second)), ("capture", str(second)),
    ]
    assert _balance(services, account_id) == 799


def test_a_reservation_neither_captured_nor_released_stays_open_for_the_sweeper_and_a_retry_supersedes_it(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = _account(services)
    charge = _charge(account_id)
    busy_settling(monkeypatch, services.ledger.writer, captures=SETTLE_TRIES_MAX, releases=SETTLE_TRIES_MAX)
    with pytest.raises(PaidWorkFailed):
        _pay(services, charge)
    first = str(charge.request_id)
    assert _credit_lines(services, account_id) == [("reserve", first)]
    assert _balance(services, account_id) == 799, "held until the sweeper or a retry releases it"

    paid = _pay(services, charge)
    second = str(attempt_request_id(charge.request_id, 1))
    assert paid.charged_credits == 1
    assert _credit_lines(services, account_id) == [
        ("reserve", first), ("release", first), ("reserve", second), ("capture", second),
    ]
    assert services.ledger.release_expired(account_id=account_id, timeout=timedelta(0)).value == []
    assert _balance(services, account_id) == 799


def test_a_retry_after_a_busy_upstream_reserves_a_new_attempt_and_charges_once(services: Services) -> None:
    account_id = _account(services)
    charge = _charge(account_id)
    with pytest.raises(PaidWorkFailed) as failed:
        _pay(services, charge, _busy_upstream)
    assert isinstance(failed.value.cause, UpstreamBusy)
    assert _pay(services, charge).charged_credits == 1
    assert [kind for kind, _ in _credit_lines(services, account_id)] == ["reserve", "release", "reserve", "capture"]
    assert _balance(services, account_id) == 799


def test_a_request_that_was_charged_is_never_charged_again(services: Services) -> None:
    account_id = _account(services)
    charge = _charge(account_id)
    _pay(services, charge)
    lines = _credit_lines(services, account_id)
    with pytest.raises(AlreadyCompleted):
        _pay(services, charge)
    assert _credit_lines(services, account_id) == lines


def test_a_request_gives_up_after_its_last_attempt_failed(services: Services) -> None:
    account_id = _account(services)
    charge = _charge(account_id)
    for _ in range(ATTEMPTS_PER_REQUEST_MAX):
        with pytest.raises(PaidWorkFailed):
            _pay(services, charge, _busy_upstream)
    with pytest.raises(AlreadyReleased):
        _pay(services, charge)
    assert _balance(services, account_id) == 800
