from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from mosaic.domain.accounts import Account, grant_id_for
from mosaic.domain.errors import (
    ChargeNotFound,
    Forbidden,
    IdempotencyKeyReused,
    InsufficientCredits,
    InvalidCredits,
    InvalidInput,
    KeyLimitReached,
    RefundExceedsCharge,
    ReservationNotOpen,
)
from mosaic.domain.plans import Pack, Plan

COMMERCIAL = Plan("commercial", "Commercial", 4399, 800, True)


def commercial_account(period: str = "2026-11") -> Account:
    account = Account.open(
        account_id=uuid.uuid4(), owner_user_id=uuid.uuid4(), plan=COMMERCIAL, sub_status="active"
    )
    account.start_period(period=period)
    return account


def test_a_new_commercial_account_holds_its_monthly_quota() -> None:
    account = commercial_account()
    assert account.available_credits == 800
    assert account.can_use_api


def test_reserved_credits_count_against_the_balance() -> None:
    account = commercial_account()
    account.reserve(request_id=uuid.uuid4(), tool="cbn", cost_credits=300)
    assert account.available_credits == 500
    assert account.balance_credits == 800


def test_a_reservation_beyond_the_available_credits_is_refused_and_changes_nothing() -> None:
    account = commercial_account()
    account.reserve(request_id=uuid.uuid4(), tool="cbn", cost_credits=790)
    version = account.version
    with pytest.raises(InsufficientCredits) as raised:
        account.reserve(request_id=uuid.uuid4(), tool="cbn", cost_credits=11)
    assert raised.value.available_credits == 10
    assert account.version == version


@pytest.mark.parametrize("cost", [0, -1, 1001])
def test_a_cost_outside_its_range_is_refused(cost: int) -> None:
    with pytest.raises(InvalidCredits):
        commercial_account().reserve(request_id=uuid.uuid4(), tool="cbn", cost_credits=cost)


def test_capture_charges_and_repeating_it_charges_nothing_more() -> None:
    account = commercial_account()
    request_id = uuid.uuid4()
    account.reserve(request_id=request_id, tool="cbn", cost_credits=3)
    assert account.capture(request_id=request_id) is True
    assert account.capture(request_id=request_id) is False
    assert account.available_credits == 797
    assert account.request_state(request_id) == "captured"


def test_release_gives_the_credits_back_once() -> None:
    account = commercial_account()
    request_id = uuid.uuid4()
    account.reserve(request_id=request_id, tool="cbn", cost_credits=3)
    assert account.release(request_id=request_id, reason="generation failed") is True
    assert account.release(request_id=request_id, reason="again") is False
    assert account.available_credits == 800


def test_a_released_reservation_cannot_be_captured() -> None:
    account = commercial_account()
    request_id = uuid.uuid4()
    account.reserve(request_id=request_id, tool="cbn", cost_credits=1)
    account.release(request_id=request_id, reason="failed")
    with pytest.raises(ReservationNotOpen):
        account.capture(request_id=request_id)


def test_a_captured_reservation_cannot_be_released() -> None:
    account = commercial_account()
    request_id = uuid.uuid4()
    account.reserve(request_id=request_id, tool="cbn", cost_credits=1)
    account.capture(request_id=request_id)
    with pytest.raises(ReservationNotOpen):
        account.release(request_id=request_id, reason="too late")


def test_a_refund_never_exceeds_what_remains_of_its_charge() -> None:
    account = commercial_account()
    charge = uuid.uuid4()
    account.reserve(request_id=charge, tool="ai", cost_credits=10)
    account.capture(request_id=charge)
    account.refund(refund_id=uuid.uuid4(), charge_id=charge, amount_credits=6, reason="blurry", issued_by="s")
    with pytest.raises(RefundExceedsCharge):
        account.refund(
            refund_id=uuid.uuid4(), charge_id=charge, amount_credits=5, reason="more", issued_by="s"
        )
    assert account.available_credits == 796


def test_a_repeated_refund_id_refunds_once() -> None:
    account = commercial_account()
    charge, refund = uuid.uuid4(), uuid.uuid4()
    account.reserve(request_id=charge, tool="ai", cost_credits=10)
    account.capture(request_id=charge)
    assert account.refund(refund_id=refund, charge_id=charge, amount_credits=4, reason="r", issued_by="s")
    assert not account.refund(refund_id=refund, charge_id=charge, amount_credits=4, reason="r", issued_by="s")
    assert account.available_credits == 794


def test_a_refund_id_reused_for_another_charge_or_amount_is_refused_and_refunds_nothing() -> None:
    account = commercial_account()
    first, second, refund = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for charge in (first, second):
        account.reserve(request_id=charge, tool="ai", cost_credits=10)
        account.capture(request_id=charge)
    assert account.refund(refund_id=refund, charge_id=first, amount_credits=4, reason="r", issued_by="s")
    version = account.version
    for charge, amount in ((second, 4), (first, 5), (second, 5)):
        with pytest.raises(IdempotencyKeyReused):
            account.refund(refund_id=refund, charge_id=charge, amount_credits=amount, reason="r", issued_by="s")
    assert not account.refund(refund_id=refund, charge_id=first, amount_credits=4, reason="r", issued_by="s")
    assert account.version == version
    assert account.available_credits == 800 - 20 + 4


def test_a_grant_id_reused_with_another_amount_is_refused_and_grants_nothing() -> None:
    account = commercial_account()
    grant = uuid.uuid4()
    assert account.grant_credits(grant_id=grant, amount_credits=5, reason="sorry", issued_by="s")
    with pytest.raises(IdempotencyKeyReused):
        account.grant_credits(grant_id=grant, amount_credits=50, reason="sorry", issued_by="s")
    assert not account.grant_credits(grant_id=grant, amount_credits=5, reason="sorry", issued_by="s")
    assert account.available_credits == 805


def test_a_refund_must_name_a_captured_charge() -> None:
    account = commercial_account()
    reserved = uuid.uuid4()
    account.reserve(request_id=reserved, tool="cbn", cost_credits=1)
    for charge in (uuid.uuid4(), reserved):
        with pytest.raises(ChargeNotFound):
            account.refund(refund_id=uuid.uuid4(), charge_id=charge, amount_credits=1, reason="r", issued_by="s")


def test_a_period_is_granted_once_and_its_leftover_expires_when_the_next_starts() -> None:
    account = commercial_account("2026-10")
    assert account.start_period(period="2026-10") is False
    request_id = uuid.uuid4()
    account.reserve(request_id=request_id, tool="cbn", cost_credits=100)
    account.capture(request_id=request_id)
    assert account.start_period(period="2026-11") is True
    expired = [e for e in account.pending_events if isinstance(e, Account.CreditsExpired)]
    assert [(e.period, e.amount_credits) for e in expired] == [("2026-10", 700)]
    assert account.available_credits == 800
    granted = [e for e in account.pending_events if isinstance(e, Account.MonthlyQuotaGranted)]
    assert granted[-1].grant_id == str(grant_id_for(account.id, "2026-11"))


def test_goodwill_credits_survive_the_end_of_a_period() -> None:
    account = commercial_account("2026-10")
    account.grant_credits(grant_id=uuid.uuid4(), amount_credits=50, reason="sorry", issued_by="s")
    request_id = uuid.uuid4()
    account.reserve(request_id=request_id, tool="cbn", cost_credits=820)
    account.capture(request_id=request_id)
    account.start_period(period="2026-11")
    assert account.available_credits == 30 + 800


def test_a_past_period_is_never_granted_after_a_newer_one() -> None:
    account = commercial_account("2026-11")
    assert account.start_period(period="2026-10") is False


def test_reservations_older_than_the_timeout_are_listed_for_release() -> None:
    account = commercial_account()
    request_id = uuid.uuid4()
    account.reserve(request_id=request_id, tool="cbn", cost_credits=1)
    reserved_at = account.reservations[str(request_id)].reserved_at
    timeout = timedelta(minutes=15)
    assert account.expired_reservations(now=reserved_at + timedelta(minutes=14), timeout=timeout) == []
    assert account.expired_reservations(now=reserved_at + timeout, timeout=timeout) == [request_id]


def test_an_account_holds_at_most_its_cap_of_active_keys() -> None:
    account = commercial_account()
    for _ in range(100):
        account.add_key(key_id=uuid.uuid4())
    with pytest.raises(KeyLimitReached):
        account.add_key(key_id=uuid.uuid4())
    account.remove_key(key_id=uuid.UUID(next(iter(account.key_ids))))
    account.add_key(key_id=uuid.uuid4())


def test_a_lapsed_subscription_loses_api_access() -> None:
    account = commercial_account()
    account.change_subscription_status(sub_status="past_due")
    assert not account.can_use_api


def test_nobody_refunds_or_grants_credits_to_their_own_account() -> None:
    account = commercial_account()
    charge = uuid.uuid4()
    account.reserve(request_id=charge, tool="cbn", cost_credits=2)
    account.capture(request_id=charge)
    with pytest.raises(Forbidden):
        account.refund(refund_id=uuid.uuid4(), charge_id=charge, amount_credits=1, reason="r", issued_by=account.owner_user_id)
    with pytest.raises(Forbidden):
        account.grant_credits(grant_id=uuid.uuid4(), amount_credits=1, reason="r", issued_by=account.owner_user_id)


def test_staff_cannot_change_the_plan_of_their_own_account() -> None:
    account = commercial_account()
    free = Plan("free", "Free", 0, 5, False)
    with pytest.raises(Forbidden):
        account.change_plan(plan=free, changed_by=account.owner_user_id)
    assert account.change_plan(plan=free, changed_by="a colleague") is True


def test_a_lapsed_subscription_gets_no_new_quota() -> None:
    account = commercial_account("2026-10")
    account.change_subscription_status(sub_status="canceled")
    assert account.start_period(period="2026-11") is False


@pytest.mark.parametrize("char", ["\u0000", "\n", "\u001b", "\u202e", "\udcff"])
def test_a_refund_or_grant_reason_with_a_control_character_is_refused_and_changes_nothing(char: str) -> None:
    account = commercial_account()
    charge = uuid.uuid4()
    account.reserve(request_id=charge, tool="cbn", cost_credits=2)
    account.capture(request_id=charge)
    version = account.version
    with pytest.raises(InvalidInput, match="control"):
        account.refund(refund_id=uuid.uuid4(), charge_id=charge, amount_credits=1, reason=f"bad{char}page", issued_by="s")
    with pytest.raises(InvalidInput, match="control"):
        account.grant_credits(grant_id=uuid.uuid4(), amount_credits=1, reason=f"sorry{char}again", issued_by="s")
    assert account.version == version


def test_a_pack_refund_seen_before_its_purchase_is_taken_back_when_the_purchase_arrives() -> None:
    account = commercial_account()
    pack = Pack("credits_100", "100 credits", 100, 999)
    assert account.refund_pack(purchase_id="pi_1", refunded_cents=500) is True  # noted: nothing to take yet
    assert account.refund_pack(purchase_id="pi_1", refunded_cents=400) is False  # an older, smaller one
    assert account.available_credits == 800
    assert account.buy_pack(purchase_id="pi_1", pack=pack, paid_cents=999) is True
    assert account.available_credits == 800 + 100 - 50 and account.refunds_waiting == {}
    assert account.refund_pack(purchase_id="pi_1", refunded_cents=999) is True  # the rest, later
    assert account.available_credits == 800 and account.packs["pi_1"].remaining_credits == 0


def test_a_replaced_subscriptions_late_event_neither_takes_over_nor_ends_the_new_one() -> None:
    account = commercial_account()
    plan = Plan("commercial", "Commercial", 4399, 800, True)
    free = Plan("free", "Free", 0, 5, False)
    assert account.follow_subscription(subscription_id="sub_new", plan=plan, period_ends_at="b", as_of=200)
    assert account.set_subscription_status(subscription_id="sub_new", sub_status="active", as_of=200)
    assert not account.follow_subscription(subscription_id="sub_old", plan=plan, period_ends_at="a", as_of=150)
    assert account.end_subscription(subscription_id="sub_old", free_plan=free, as_of=190)  # noted only
    assert (account.subscription_id, account.plan_name, account.sub_status) == ("sub_new", "commercial", "active")
    assert account.available_credits == 800


def _held_across_a_period(cost: int = 790) -> tuple[Account, uuid.UUID]:
    """Most of 2026-11's quota reserved, then 2026-12 starts while the reservation is open."""
    account = commercial_account("2026-11")
    request_id = uuid.uuid4()
    account.reserve(request_id=request_id, tool="cbn", cost_credits=cost)
    account.start_period(period="2026-12")
    return account, request_id


def test_credits_held_when_their_period_ends_are_spent_by_the_capture_and_never_outlive_it() -> None:
    account, request_id = _held_across_a_period()
    assert account.available_credits == 800  # the new quota; the held 790 are still the old period's
    account.capture(request_id=request_id)
    assert account.available_credits == 800  # the capture spent the old period's credits, not the new
    account.start_period(period="2027-01")
    assert account.available_credits == account.balance_credits == 800


def test_credits_held_when_their_period_ends_expire_when_the_reservation_is_released() -> None:
    account, request_id = _held_across_a_period()
    account.collect_events()
    account.release(request_id=request_id, reason="generation failed")
    released = [e for e in account.collect_events() if isinstance(e, Account.ReservationReleased)]
    assert [(e.cost_credits, e.expired_credits) for e in released] == [(790, 790)]
    assert account.available_credits == account.balance_credits == 800
    account.start_period(period="2027-01")
    assert account.available_credits == account.balance_credits == 800


def test_a_reservation_held_across_two_period_starts_still_settles_against_the_period_it_came_from() -> None:
    account, request_id = _held_across_a_period(800)  # nothing left over: no expiry, all of it held
    account.start_period(period="2027-01")
    assert account.available_credits == 800
    account.release(request_id=request_id, reason="generation failed")
    assert account.available_credits == account.balance_credits == 800


def test_held_credits_beyond_the_quota_come_from_packs_and_goodwill_which_never_expire() -> None:
    account = commercial_account("2026-11")
    account.grant_credits(grant_id=uuid.uuid4(), amount_credits=50, reason="sorry", issued_by="support")
    account.buy_pack(purchase_id="pi_1", pack=Pack("credits_100", "100 credits", 100, 999), paid_cents=999)
    request_id = uuid.uuid4()
    account.reserve(request_id=request_id, tool="cbn", cost_credits=900)  # 950 in all: 50 left free
    account.start_period(period="2026-12")
    account.capture(request_id=request_id)
    account.start_period(period="2027-01")
    # 950 - 900 = 50 outlive 2026-11 (goodwill and pack credits), plus the new quota; nothing more
    assert account.available_credits == account.balance_credits == 800 + 50


def test_a_reservation_made_after_a_period_starts_holds_none_of_the_ended_periods_credits() -> None:
    account, held = _held_across_a_period()
    fresh = uuid.uuid4()
    account.reserve(request_id=fresh, tool="cbn", cost_credits=100)
    account.collect_events()
    account.release(request_id=fresh, reason="generation failed")
    account.release(request_id=held, reason="generation failed")
    released = [e for e in account.collect_events() if isinstance(e, Account.ReservationReleased)]
    assert [(e.cost_credits, e.expired_credits) for e in released] == [(100, 0), (790, 790)]
    assert account.available_credits == 800
