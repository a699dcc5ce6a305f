"""The ledger's contract, on SQLite and on PostgreSQL: commands, views, read-your-writes, rebuild."""

from __future__ import annotations

import functools
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from mosaic.bootstrap import Services
from mosaic.commands.idempotency import request_id_for
from mosaic.commands.paid import Charge, ReserveCharges
from mosaic.domain.errors import (
    AlreadyCompleted,
    EmailTaken,
    IdempotencyKeyReused,
    InsufficientCredits,
    InvalidInput,
    NotFound,
    RefundExceedsCharge,
)
from tests import charging
from tests.conftest import both_backends

PASSWORD = "correct horse battery"


def commercial(services: Services, email: str = "ada@example.com") -> tuple[uuid.UUID, uuid.UUID]:
    committed = services.ledger.register_user(email=email, password=PASSWORD, plan_name="commercial")
    services.settle(committed)
    return committed.value.user_id, committed.value.account_id


@both_backends()
def test_a_new_commercial_user_reads_the_spec_balance(services: Services) -> None:
    _, account_id = commercial(services)
    balance = services.views.balance(str(account_id))
    assert balance is not None
    assert (balance.balance, balance.monthly_quota, balance.plan_name, balance.sub_status) == (
        800,
        800,
        "commercial",
        "active",
    )


@both_backends()
def test_an_email_registers_once(services: Services) -> None:
    commercial(services)
    with pytest.raises(EmailTaken):
        services.ledger.register_user(email=" ADA@example.com", password=PASSWORD)


def test_bad_registration_input_is_refused_before_anything_is_written(services: Services) -> None:
    position = services.store.recorder.max_notification_id()
    for email, password in (("not-an-email", PASSWORD), ("a@b.c", "short"), ("a" * 300 + "@x.io", PASSWORD)):
        with pytest.raises(InvalidInput):
            services.ledger.register_user(email=email, password=password)
    assert services.store.recorder.max_notification_id() == position


def captured_charge(services: Services, *, cost_credits: int) -> tuple[uuid.UUID, uuid.UUID, int]:
    """A commercial account with one captured charge: (account id, charge id, the log's position)."""
    _, account_id = commercial(services)
    charge = uuid.uuid4()
    charging.reserve(services, account_id, charge, tool="cbn", cost_credits=cost_credits)
    charging.capture(services, account_id, charge)
    return account_id, charge, services.store.recorder.max_notification_id()


@both_backends()
def test_a_nul_in_an_email_or_a_reason_is_refused_before_anything_is_written(services: Services) -> None:
    account_id, charge, position = captured_charge(services, cost_credits=2)
    with pytest.raises(InvalidInput):
        services.ledger.register_user(email="a\x00@example.com", password=PASSWORD)
    with pytest.raises(InvalidInput):
        services.ledger.refund(account_id=account_id, charge_id=charge, amount_credits=1, reason="smudged\x00", issued_by="s")
    with pytest.raises(InvalidInput):
        services.ledger.grant_credits(account_id=account_id, amount_credits=1, reason="\x00", issued_by="s")
    assert services.store.recorder.max_notification_id() == position
    services.settle(services.ledger.grant_credits(account_id=account_id, amount_credits=1, reason="sorry", issued_by="s"))
    assert services.views.balance(str(account_id)).balance == 800 - 2 + 1  # type: ignore[union-attr]


@both_backends()
def test_the_statement_shows_every_credit_event_with_a_running_balance(services: Services) -> None:
    _, account_id = commercial(services)
    ledger = services.ledger
    kept, failed = uuid.uuid4(), uuid.uuid4()
    charging.reserve(services, account_id, kept, tool="cbn", cost_credits=1)
    charging.capture(services, account_id, kept)
    charging.reserve(services, account_id, failed, tool="ai", cost_credits=10)
    charging.release(services, account_id, failed, "upstream timed out")
    ledger.refund(account_id=account_id, charge_id=kept, amount_credits=1, reason="smudged", issued_by="s")
    services.settle(ledger.grant_credits(account_id=account_id, amount_credits=5, reason="sorry", issued_by="s"))
    lines = services.views.statement(str(account_id))
    assert [line.kind for line in lines] == [
        "monthly_grant", "reserve", "capture", "reserve", "release", "refund", "goodwill_grant",
    ]
    running = 0
    for line in lines:
        running += line.delta_credits
        assert line.balance_after == running
    assert lines[-1].balance_after == 805 == services.views.balance(str(account_id)).balance  # type: ignore[union-attr]


@both_backends()
def test_a_request_charged_once_is_refused_when_tried_again_and_nothing_more_is_charged(services: Services) -> None:
    _, account_id = commercial(services)
    request_id = request_id_for(account_id, "idem-1")
    first = charging.reserve(services, account_id, request_id, tool="cbn", cost_credits=1)
    charging.capture(services, account_id, request_id)
    position = services.store.recorder.max_notification_id()
    with pytest.raises(AlreadyCompleted):
        services.writer.execute(ReserveCharges((Charge(account_id, request_id, "cbn", 1),)))
    assert first.value == 799
    assert services.store.recorder.max_notification_id() == position  # nothing written
    services.runner.catch_up()
    assert services.views.balance(str(account_id)).balance == 799  # type: ignore[union-attr]


@both_backends()
def test_over_refund_is_refused_and_changes_nothing(services: Services) -> None:
    account_id, charge, position = captured_charge(services, cost_credits=3)
    with pytest.raises(RefundExceedsCharge):
        services.ledger.refund(account_id=account_id, charge_id=charge, amount_credits=4, reason="r", issued_by="s")
    assert services.store.recorder.max_notification_id() == position


@both_backends()
def test_a_staff_members_key_reused_for_another_refund_or_grant_is_refused_without_the_http_record(
    services: Services,
) -> None:
    _, account_id = commercial(services)
    first, second = uuid.uuid4(), uuid.uuid4()
    for charge in (first, second):
        charging.reserve(services, account_id, charge, tool="ai", cost_credits=10)
        charging.capture(services, account_id, charge)
    services.runner.catch_up()  # the charges view names each charge's account
    refund = functools.partial(
        services.use_cases.support.refund, staff_user_id="staff-1", reason="smudged", idempotency_key="ticket-9"
    )
    grant = functools.partial(
        services.use_cases.support.grant, staff_user_id="staff-1", account_id=str(account_id),
        reason="sorry", idempotency_key="ticket-9",
    )
    assert refund(charge_id=str(first), amount_credits=4).applied
    assert grant(amount_credits=5).applied
    position = services.store.recorder.max_notification_id()
    for charge_id, amount in ((str(second), 4), (str(first), 3)):
        with pytest.raises(IdempotencyKeyReused):
            refund(charge_id=charge_id, amount_credits=amount)
    with pytest.raises(IdempotencyKeyReused):
        grant(amount_credits=6)
    assert not refund(charge_id=str(first), amount_credits=4).applied
    assert not grant(amount_credits=5).applied
    assert services.store.recorder.max_notification_id() == position


@both_backends()
def test_concurrent_reservations_never_spend_the_same_credit(services: Services) -> None:
    _, account_id = commercial(services)

    def spend(_: int) -> bool:
        request_id = uuid.uuid4()
        try:
            charging.reserve(services, account_id, request_id, tool="cbn", cost_credits=3)
        except InsufficientCredits:
            return False
        charging.capture(services, account_id, request_id)
        return True

    with ThreadPoolExecutor(32) as pool:
        outcomes = list(pool.map(spend, range(300)))
    assert outcomes.count(True) == 800 // 3
    services.runner.catch_up()
    assert services.views.balance(str(account_id)).balance == 800 % 3  # type: ignore[union-attr]


@both_backends()
def test_a_rebuild_from_event_zero_equals_the_live_views(services: Services) -> None:
    user_id, account_id = commercial(services)
    commercial(services, "grace@example.com")
    committed, _ = services.ledger.create_key(user_id=user_id, name="shop")
    services.ledger.revoke_key(user_id=user_id, key_id=committed.value.key_id)
    for i in range(5):
        request_id = uuid.uuid4()
        charging.reserve(services, account_id, request_id, tool="cbn", cost_credits=1)
        if i % 2:
            charging.capture(services, account_id, request_id)
    services.ledger.change_plan(account_id=account_id, plan_name="free")
    services.runner.catch_up()
    live = services.views.dump()
    services.runner.rebuild()
    assert services.views.dump() == live
    assert live["statement"] and live["api_keys"] and live["open_reservations"]


@both_backends()
def test_revoking_another_users_key_is_not_found(services: Services) -> None:
    owner, _ = commercial(services)
    stranger, _ = commercial(services, "eve@example.com")
    committed, _ = services.ledger.create_key(user_id=owner, name="shop")
    with pytest.raises(NotFound):
        services.ledger.revoke_key(user_id=stranger, key_id=committed.value.key_id)


def test_a_writer_of_another_process_is_caught_up_with_before_a_refusal_stands(
    make_services: object,
) -> None:
    first = make_services()  # type: ignore[operator]
    second = make_services()  # type: ignore[operator]
    _, account_id = commercial(first)
    spent = uuid.uuid4()
    charging.reserve(first, account_id, spent, tool="cbn", cost_credits=800)
    # the second instance caches the account with 0 credits available
    with pytest.raises(InsufficientCredits):
        charging.reserve(second, account_id, uuid.uuid4(), tool="cbn", cost_credits=1)
    charging.release(first, account_id, spent, "failed")
    outcome = charging.reserve(second, account_id, uuid.uuid4(), tool="cbn", cost_credits=1)
    assert outcome.value == 799


@both_backends()
def test_the_statement_has_a_line_for_every_kind_of_credit_event_including_expiry(database_url: str) -> None:
    from datetime import UTC, datetime

    from mosaic.bootstrap import build
    from tests.conftest import settings_for

    now = [datetime(2026, 10, 5, tzinfo=UTC)]
    services = build(settings_for(database_url), background=False, clock=lambda: now[0])
    try:
        _, account_id = commercial(services)
        ledger = services.ledger
        kept, failed = uuid.uuid4(), uuid.uuid4()
        charging.reserve(services, account_id, kept, tool="cbn", cost_credits=100)
        charging.capture(services, account_id, kept)
        charging.reserve(services, account_id, failed, tool="ai", cost_credits=10)
        charging.release(services, account_id, failed, "upstream error")
        ledger.refund(account_id=account_id, charge_id=kept, amount_credits=40, reason="smudged", issued_by="s")
        ledger.grant_credits(account_id=account_id, amount_credits=5, reason="sorry", issued_by="s")
        now[0] = datetime(2026, 11, 1, tzinfo=UTC)
        services.settle(ledger.start_period(account_id=account_id))
        lines = services.views.statement(str(account_id))
        kinds = [line.kind for line in lines]
        assert kinds == [
            "monthly_grant", "reserve", "capture", "reserve", "release", "refund", "goodwill_grant",
            "expiry", "monthly_grant",
        ]
        running = 0
        for line in lines:
            running += line.delta_credits
            assert line.balance_after == running
        # 700 of October's quota was left unspent and expired; the refund and the grant stay
        assert lines[-2].delta_credits == -700
        assert running == 40 + 5 + 800 == services.views.balance(str(account_id)).balance  # type: ignore[union-attr]
    finally:
        services.close()


@both_backends()
def test_credits_held_when_their_period_ends_never_outlive_it_in_the_balance_view(database_url: str) -> None:
    from datetime import UTC, datetime

    from mosaic.bootstrap import build
    from tests.conftest import settings_for

    now = [datetime(2026, 10, 5, tzinfo=UTC)]
    services = build(settings_for(database_url), background=False, clock=lambda: now[0])
    try:
        _, account_id = commercial(services)
        captured, released = uuid.uuid4(), uuid.uuid4()
        charging.reserve(services, account_id, captured, tool="cbn", cost_credits=500)
        charging.reserve(services, account_id, released, tool="ai", cost_credits=290)
        now[0] = datetime(2026, 11, 1, tzinfo=UTC)
        services.settle(services.ledger.start_period(account_id=account_id))
        charging.capture(services, account_id, captured)
        charging.release(services, account_id, released, "upstream error")
        now[0] = datetime(2026, 12, 1, tzinfo=UTC)
        services.settle(services.ledger.start_period(account_id=account_id))
        lines = services.views.statement(str(account_id))
        assert [(line.kind, line.delta_credits) for line in lines] == [
            ("monthly_grant", 800), ("reserve", -500), ("reserve", -290), ("expiry", -10), ("monthly_grant", 800),
            ("capture", 0), ("release", 290), ("expiry", -290), ("expiry", -800), ("monthly_grant", 800),
        ]
        running = 0
        for line in lines:
            running += line.delta_credits
            assert line.balance_after == running
        assert running == 800 == services.views.balance(str(account_id)).balance  # type: ignore[union-attr]
        before = services.views.dump()
        services.runner.rebuild()
        assert services.views.dump() == before
        from mosaic.queries.audit_log import verify_database

        report = verify_database(services.db)  # the auditor's replay agrees with the log and the views
        assert report.ok, report.discrepancies
    finally:
        services.close()


def test_credits_a_release_returns_expired_are_counted_as_expired_not_released_back() -> None:
    from prometheus_client import REGISTRY

    from mosaic.commands.metrics import count_credit_movements
    from tests.domain.test_accounts import commercial_account

    account = commercial_account("2026-11")
    request_id = uuid.uuid4()
    account.reserve(request_id=request_id, tool="cbn", cost_credits=800)
    account.start_period(period="2026-12")  # nothing unheld to expire: all 800 held
    account.release(request_id=request_id, reason="failed")
    before = REGISTRY.get_sample_value("mosaic_credits_total", {"movement": "expired"}) or 0
    count_credit_movements(account.collect_events())
    assert REGISTRY.get_sample_value("mosaic_credits_total", {"movement": "expired"}) == before + 800
